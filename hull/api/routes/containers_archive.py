"""``GET|HEAD|PUT /containers/{id}/archive?path=``: ``docker cp`` both ways.

GET: a tar of ``path`` inside the container's root filesystem, with the
``X-Docker-Container-Path-Stat`` header (base64 of ``{name, size, mode,
mtime, linkTarget}``, ``mode`` as Go's ``os.FileMode``); HEAD: the header
alone; PUT: a tar body extracted into the directory ``path``.

The root filesystem is the container's mounted bundle rootfs while it runs
and its snapshot mounted on a temporary directory otherwise
(``hull.engine.containers._rootfs``, under the engine's lock so it cannot
start meanwhile). Paths resolve with ``secure_join`` (symlinks followed
inside the rootfs, ``..`` stopping at its root) except the last component,
which is not followed, as dockerd does; extraction goes through
``apply_layer``, which never writes outside its destination.

Not covered: paths inside volumes and bind mounts of a running container
(those live in the container's mount namespace, not in the rootfs), and
``noOverwriteDirNonDir``/``copyUIDGID`` (owners are kept as archived).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from hull.engine import filesystem as fs
from hull.errors import InvalidArgument, NotFound
from hull.runtime.rootfs import secure_join

from ..http import Request, Response, StreamResponse, empty_response
from .containers_common import call, engine_of
from .images_common import body_stream, stream_from_thread

if TYPE_CHECKING:
    from hull.engine.engine import Engine

ROUTES = [
    ("GET", "/containers/{id}/archive"),
    ("HEAD", "/containers/{id}/archive"),
    ("PUT", "/containers/{id}/archive"),
]
STAT_HEADER = "X-Docker-Container-Path-Stat"

# Go's os.FileMode type bits
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_DEVICE = 1 << 26
_GO_PIPE = 1 << 25
_GO_SOCKET = 1 << 24
_GO_SETUID = 1 << 23
_GO_SETGID = 1 << 22
_GO_CHARDEV = 1 << 21
_GO_STICKY = 1 << 20


def go_mode(st: os.stat_result) -> int:
    """A POSIX mode as Go's ``os.FileMode`` (what the docker CLI decodes)."""
    m = st.st_mode
    out = m & 0o777
    if stat.S_ISDIR(m):
        out |= _GO_DIR
    elif stat.S_ISLNK(m):
        out |= _GO_SYMLINK
    elif stat.S_ISBLK(m):
        out |= _GO_DEVICE
    elif stat.S_ISCHR(m):
        out |= _GO_DEVICE | _GO_CHARDEV
    elif stat.S_ISFIFO(m):
        out |= _GO_PIPE
    elif stat.S_ISSOCK(m):
        out |= _GO_SOCKET
    if m & stat.S_ISUID:
        out |= _GO_SETUID
    if m & stat.S_ISGID:
        out |= _GO_SETGID
    if m & stat.S_ISVTX:
        out |= _GO_STICKY
    return out


def resolve(root: Path, path: str) -> Path:
    """``path`` inside ``root``: parents resolved safely, the last component not followed."""
    if not path:
        raise InvalidArgument("path cannot be empty")
    clean = "/" + path.strip("/")
    follow_last = path.endswith("/") or path.endswith("/.")
    if clean == "/":
        return root
    parent, _, base = clean.rpartition("/")
    parent_host = Path(secure_join(str(root), parent or "/"))
    if base in (".", ".."):
        return Path(secure_join(str(root), clean))
    target = parent_host / base
    if follow_last:
        target = Path(secure_join(str(root), clean))
    return target


def path_stat(root: Path, path: str) -> tuple[Path, dict[str, Any]]:
    """The host path and Docker's ``ContainerPathStat`` of ``path``."""
    target = resolve(root, path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        raise NotFound(f"Could not find the file {path} in container") from None
    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = os.readlink(target)
    name = os.path.basename(path.rstrip("/")) or "/"
    mtime = datetime.fromtimestamp(st.st_mtime, UTC).isoformat().replace("+00:00", "Z")
    return target, {"name": name, "size": st.st_size, "mode": go_mode(st), "mtime": mtime,
                    "linkTarget": link}  # fmt: skip


def header_value(doc: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


@contextlib.contextmanager
def _root_of(eng: Engine, ref: str) -> Iterator[Path]:
    rec = eng.find(ref)
    with eng._lock, fs.mounted_rootfs(eng, rec) as root:
        yield root


async def handle(req: Request) -> Response | StreamResponse:
    ref = req.params["id"]
    path = req.arg("path") or ""
    if not path:
        raise InvalidArgument("path cannot be empty")
    eng = await engine_of(req)
    cid = (await call(req, lambda e: e.find(ref))).id
    if req.method == "PUT":
        return await _put(req, eng, cid, path)

    def get_stat() -> dict[str, Any]:
        with _root_of(eng, cid) as root:
            return path_stat(root, path)[1]

    doc = await call(req, lambda e: get_stat())
    headers = {STAT_HEADER: header_value(doc)}
    if req.method == "HEAD":
        return empty_response(200, headers)

    def write(out: BinaryIO) -> None:
        with _root_of(eng, cid) as root:
            target, st = path_stat(root, path)
            arcname = st["name"] if st["name"] != "/" else "."
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.add(str(target), arcname=arcname, recursive=True)

    chunks = await stream_from_thread(write)
    return StreamResponse(chunks, 200, "application/x-tar", headers)


async def _put(req: Request, eng: Engine, cid: str, path: str) -> Response:
    from hull.archive import apply_layer

    src = body_stream(req)

    def extract() -> None:
        with _root_of(eng, cid) as root:
            dest = Path(secure_join(str(root), path))
            if not dest.exists():
                raise NotFound(f"Could not find the file {path} in container")
            if not dest.is_dir():
                raise InvalidArgument(f"extraction point is not a directory: {path}")
            apply_layer(src, dest, whiteout_format="vfs", threaded=False)

    await call(req, lambda e: extract())
    return empty_response(200)
