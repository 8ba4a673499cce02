"""``hull import [-c CHANGE]... [-m MSG] FILE|URL|- [REPOSITORY[:TAG]]``, as ``docker import``.

A rootfs tarball (plain, gzip or zstd) becomes a one-layer image through
``POST /images/create?fromSrc=-``; a URL is passed to the daemon to fetch.
Prints the new image's ID.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import IO, Any

from .load import StreamError, show, upload

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "-c",
        "--change",
        action="append",
        default=[],
        help="apply Dockerfile instruction to the created image",
    )
    p.add_argument("-m", "--message", default="", help="set commit message for imported image")
    p.add_argument("--platform", default="", help="set platform if server is multi-platform")
    p.add_argument("source", metavar="file|URL|-")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser(
            "import", help="Import the contents from a tarball to create a filesystem image"
        )
    )


def import_tarball(
    client: Any,
    body: IO[bytes] | None,
    *,
    source: str = "-",
    reference: str | None = None,
    changes: Sequence[str] = (),
    message: str = "",
    platform: str = "",
) -> str:
    """Send a rootfs tar to ``/images/create``; print the progress; the new image ID."""
    query = [("fromSrc", source), ("repo", reference or ""), ("tag", ""), ("message", message)]
    query += [("changes", c) for c in changes]
    if platform:
        query.append(("platform", platform))
    statuses = show(upload(client, "/images/create", query, body))
    return statuses[-1] if statuses else ""


def run(args: argparse.Namespace, client: Any) -> int:
    src = args.source

    def send(body: IO[bytes] | None, source: str = "-") -> None:
        import_tarball(
            client,
            body,
            source=source,
            reference=args.reference,
            changes=args.change,
            message=args.message,
            platform=args.platform,
        )

    try:
        if src == "-":
            send(sys.stdin.buffer)
        elif src.startswith(("http://", "https://")):
            send(None, src)  # the daemon fetches it
        else:
            with open(src, "rb") as f:
                send(f)
    except StreamError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.filename is None:
            raise
        print(f"open {exc.filename}: {(exc.strerror or str(exc)).lower()}", file=sys.stderr)
        return 1
    return 0
