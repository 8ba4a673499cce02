"""COPY, ADD and WORKDIR on a mounted rootfs, with Docker's directory semantics.

- a directory source copies its *contents* into the destination;
- a file source lands at ``dest/<name>`` when the destination ends with
  ``/``, is an existing directory, or there are several sources (then it
  must end with ``/``); else it is the destination path itself;
- relative destinations are relative to ``WORKDIR``;
- files keep their mode (``--chmod`` replaces it) and mtime; everything new
  is owned by ``--chown``'s user, else by 0:0; missing parent directories
  are made 0755 with the same owner;
- symlinks are copied as symlinks; devices, fifos and sockets are skipped;
- ``ADD`` of a local tar archive (plain, gzip, bzip2, xz, zstd) extracts it
  into the destination directory, owners as in the archive.

Every path inside the rootfs is resolved with ``secure_join`` one directory
at a time, so an image's symlinks are followed inside the rootfs and never
out of it, and files are created with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hull.errors import HullError, InvalidArgument
from hull.runtime.rootfs import secure_join

__all__ = [
    "CopyOptions",
    "Source",
    "copy_sources",
    "dest_path",
    "extract_archive",
    "is_archive",
    "make_dirs",
    "write_file",
]

# (path relative to the source root, path relative to the copied source) -> keep?
Allowed = Callable[[str, str], bool]


@dataclass(frozen=True)
class Source:
    """One matched source: ``rel`` below ``root`` on the host ("" is the root itself)."""

    root: str
    rel: str

    @property
    def path(self) -> str:
        """The host path."""
        return os.path.join(self.root, self.rel) if self.rel else self.root


@dataclass(frozen=True)
class CopyOptions:
    """Owner and mode of what a COPY writes."""

    uid: int = 0
    gid: int = 0
    chmod: int | None = None


def dest_path(dest: str, workdir: str) -> str:
    """The absolute destination; a trailing ``/`` (or ``.``) is kept as a directory marker."""
    is_dir = dest.endswith("/") or dest in (".", "") or dest.endswith("/.")
    full = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    full = posixpath.normpath(full)
    if full.startswith("//"):
        full = full[1:]
    return full.rstrip("/") + "/" if is_dir else full


def make_dirs(rootfs: str, path: str, uid: int = 0, gid: int = 0, mode: int = 0o755) -> str:
    """``mkdir -p`` inside the rootfs (new dirs owned uid:gid); the host path."""
    cur = "/"
    for part in [p for p in path.split("/") if p]:
        cur = posixpath.join(cur, part)
        host = secure_join(rootfs, cur)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            os.mkdir(host, mode)
            os.chown(host, uid, gid)
            os.chmod(host, mode)
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(f"cannot create directory {cur}: a file is in the way")
    return secure_join(rootfs, path)


def _clear(host: str, is_dir: bool) -> bool:
    """Make room at ``host`` for a new entry; True if a directory is there to reuse."""
    try:
        st = os.lstat(host)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        if is_dir:
            return True
        raise InvalidArgument(f"cannot replace directory {host!r} with a file")
    os.unlink(host)
    return False


def _copy_entry(src: str, st: os.stat_result, dst: str, opts: CopyOptions) -> None:
    mode = opts.chmod if opts.chmod is not None else stat.S_IMODE(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        _clear(dst, False)
        fd = os.open(
            dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            with open(src, "rb") as fin:
                out = os.fdopen(fd, "wb", closefd=False)
                shutil.copyfileobj(fin, out, 1 << 20)
                out.flush()
            os.fchown(fd, opts.uid, opts.gid)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif stat.S_ISLNK(st.st_mode):
        _clear(dst, False)
        os.symlink(os.readlink(src), dst)
        os.lchown(dst, opts.uid, opts.gid)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_dir(
    src: Source, inner: str, dst: str, rootfs: str, opts: CopyOptions, allowed: Allowed
) -> None:
    """Copy the contents of host dir ``src.path/inner`` into container dir ``dst``."""
    here = os.path.join(src.path, inner) if inner else src.path
    with os.scandir(here) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        rel_inner = f"{inner}/{e.name}" if inner else e.name
        rel_root = f"{src.rel}/{rel_inner}" if src.rel else rel_inner
        if not allowed(rel_root, rel_inner):
            continue
        st = e.stat(follow_symlinks=False)
        target = posixpath.join(dst, e.name)
        if stat.S_ISDIR(st.st_mode):
            host = secure_join(rootfs, target)
            if not _clear(host, True):
                os.mkdir(host, 0o700)
            os.chown(host, opts.uid, opts.gid)
            _copy_dir(src, rel_inner, target, rootfs, opts, allowed)
            mode = opts.chmod if opts.chmod is not None else stat.S_IMODE(st.st_mode)
            os.chmod(host, mode)
            os.utime(host, ns=(st.st_atime_ns, st.st_mtime_ns))
        else:
            host = secure_join(rootfs, dst) + "/" + e.name
            _copy_entry(e.path, st, host, opts)


def _is_dir_in(rootfs: str, path: str) -> bool:
    return os.path.isdir(secure_join(rootfs, path))


def copy_sources(
    rootfs: str,
    sources: Sequence[Source],
    dest: str,
    workdir: str,
    opts: CopyOptions,
    allowed: Allowed = lambda a, b: True,
    *,
    follow_top: bool = False,
) -> None:
    """COPY ``sources`` to ``dest`` in the mounted ``rootfs`` (see the module doc)."""
    full = dest_path(dest, workdir)
    want_dir = full.endswith("/")
    if len(sources) > 1 and not want_dir:
        raise InvalidArgument(
            "When using COPY with more than one source file, "
            "the destination must be a directory and end with a /"
        )
    full = full.rstrip("/") or "/"
    dest_is_dir = want_dir or _is_dir_in(rootfs, full)
    for src in sources:
        st = os.stat(src.path) if follow_top else os.lstat(src.path)
        if stat.S_ISDIR(st.st_mode):
            host = make_dirs(rootfs, full, opts.uid, opts.gid)
            _copy_dir(src, "", full, rootfs, opts, allowed)
            if opts.chmod is not None and src.rel:
                os.chmod(host, opts.chmod)
            continue
        if dest_is_dir:
            parent, name = full, posixpath.basename(src.rel or src.root)
        else:
            parent, name = posixpath.split(full)
        host_dir = make_dirs(rootfs, parent, opts.uid, opts.gid)
        _copy_entry(src.path, st, os.path.join(host_dir, name), opts)


def write_file(rootfs: str, path: str, data: bytes, opts: CopyOptions, mode: int = 0o644) -> None:
    """Write one file (a COPY heredoc, an ADD download) at container ``path``."""
    parent, name = posixpath.split(path)
    host = os.path.join(make_dirs(rootfs, parent or "/", opts.uid, opts.gid), name)
    _clear(host, False)
    fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fchown(fd, opts.uid, opts.gid)
        os.fchmod(fd, opts.chmod if opts.chmod is not None else mode)
    finally:
        os.close(fd)


def is_archive(path: str) -> bool:
    """Whether ADD would extract this local file: a (compressed) tar archive."""
    import tarfile

    from hull.archive import decompress_stream

    try:
        with open(path, "rb") as f:
            head = decompress_stream(f).read(512)
    except (OSError, HullError, EOFError, ValueError):
        return False
    if len(head) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def extract_archive(rootfs: str, archive: Path, dest: str) -> None:
    """Unpack a tar archive into container dir ``dest`` (never outside it)."""
    from hull.archive import apply_layer

    host = make_dirs(rootfs, dest)
    with open(archive, "rb") as f:
        apply_layer(f, Path(host), whiteout_format="vfs", threaded=False)
