"""``hull save [-o FILE] IMAGE...``: images to a docker-archive tar, as ``docker save``.

Without ``-o`` the tar goes to standard output, which must not be a
terminal. With ``-o`` it is written to a temp file beside FILE and renamed
into place once complete (the docker CLI's ``CopyToFile``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

NEEDS_DAEMON = True
REFUSE = "Cowardly refusing to save to a terminal. Use the -o flag or redirect."


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-o", "--output", help="write to a file, instead of STDOUT")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser(
            "save",
            help="Save one or more images to a tar archive (streamed to STDOUT by default)",
        )
    )


def copy_to_file(chunks: Any, dest: Path) -> None:
    """Write ``chunks`` to a temp file in ``dest``'s directory, then rename it over ``dest``."""
    fd, tmp = tempfile.mkstemp(prefix=".hull_temp_", dir=dest.parent if str(dest.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def run(args: argparse.Namespace, client: Any) -> int:
    if not args.output and sys.stdout.isatty():
        print(REFUSE, file=sys.stderr)
        return 1
    # one names= per image (the client would send a list as one JSON value)
    query = urlencode([("names", name) for name in args.images])
    chunks = client.stream_raw("GET", f"/images/get?{query}")
    if args.output:
        copy_to_file(chunks, Path(args.output))
        return 0
    out = sys.stdout.buffer
    for chunk in chunks:
        out.write(chunk)
    out.flush()
    return 0
