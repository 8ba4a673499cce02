"""``hull cp [-a] [-L] SRC DEST``: copy between a container and the host, as ``docker cp``.

One side is ``CONTAINER:PATH``; ``-`` on the host side is a tar stream on
stdin or stdout. From a container: ``GET /containers/{id}/archive`` and the
tar extracted under DEST (renamed to DEST when it does not exist). To a
container: the host path packed as a tar and ``PUT`` into the destination
directory (the entry renamed when the destination does not exist).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from hull.errors import HullError, NotFound

from ..errors import UsageError
from .container import cpath

NEEDS_DAEMON = True


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-a", "--archive", action="store_true", help="archive mode (copy uid/gid)")
    p.add_argument("-L", "--follow-link", action="store_true", help="follow symlinks in SRC")
    p.add_argument("src", metavar="SRC")
    p.add_argument("dest", metavar="DEST")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser("cp", help="Copy files/folders between a container and the local filesystem")
    )


def split_cp_arg(arg: str) -> tuple[str, str]:
    """``CONTAINER:PATH`` → (container, path); a local path → ("", path)."""
    if arg.startswith("/") or arg.startswith("."):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep:
        return "", arg
    return container, path


def stat_path(client: Any, container: str, path: str) -> dict[str, Any] | None:
    """The ``X-Docker-Container-Path-Stat`` of ``path`` (None if it does not exist)."""
    try:
        reply = client.head(cpath(container, "/archive"), params={"path": path})
    except NotFound:
        return None
    headers = {k.lower(): v for k, v in reply.headers.items()}
    raw = headers.get("x-docker-container-path-stat", "")
    doc: dict[str, Any] = json.loads(base64.b64decode(raw)) if raw else {}
    return doc


def run(args: argparse.Namespace, client: Any) -> int:
    sc, sp = split_cp_arg(args.src)
    dc, dp = split_cp_arg(args.dest)
    if sc and dc:
        raise UsageError("copying between containers is not supported", "hull cp")
    if not sc and not dc:
        raise UsageError("must specify at least one container source", "hull cp")
    if sc:
        return from_container(client, sc, sp, dp)
    return to_container(client, sp, dc, dp, args.archive, args.follow_link)


def from_container(client: Any, container: str, src: str, dest: str) -> int:
    chunks = client.stream_raw("GET", cpath(container, "/archive"), params={"path": src})
    if dest == "-":
        out = sys.stdout.buffer
        for c in chunks:
            out.write(c)
        out.flush()
        return 0
    target = Path(dest)
    with tempfile.TemporaryFile() as tmp:
        for c in chunks:
            tmp.write(c)
        tmp.seek(0)
        with tarfile.open(fileobj=tmp, mode="r|*") as tar:
            if target.is_dir():
                base, rename = target, None
            else:
                if dest.endswith("/"):
                    raise HullError(f"destination directory {dest} does not exist")
                base, rename = target.parent, target.name
            for member in tar:
                if rename is not None:
                    _, _, rest = member.name.partition("/")
                    member.name = rename + ("/" + rest if rest else "")
                tar.extract(member, base, filter="tar")
    return 0


def to_container(
    client: Any, src: str, container: str, dest: str, archive: bool, follow: bool
) -> int:
    if src == "-":
        data = sys.stdin.buffer.read()
        target_dir = dest
    else:
        source = Path(src)
        if not source.exists() and not source.is_symlink():
            print(f"lstat {os.path.abspath(src)}: no such file or directory", file=sys.stderr)
            return 1
        st = stat_path(client, container, dest)
        if st is not None and (int(st.get("mode", 0)) & 0x80000000):  # Go's os.ModeDir
            target_dir, name = dest, source.name
        else:
            if dest.endswith("/"):
                raise HullError(f"destination directory {dest} does not exist")
            target_dir, name = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", dereference=follow) as tar:

            def owner(ti: tarfile.TarInfo) -> tarfile.TarInfo:
                if not archive:
                    ti.uid = ti.gid = 0
                    ti.uname = ti.gname = ""
                return ti

            tar.add(str(source), arcname=name, filter=owner)
        data = buf.getvalue()
    client.request(
        "PUT",
        cpath(container, "/archive"),
        params={"path": target_dir, "noOverwriteDirNonDir": True, "copyUIDGID": archive or None},
        data=data,
        headers={"Content-Type": "application/x-tar"},
    )
    return 0
