"""Apply an OCI layer tar stream to a directory, never writing outside it.

Every entry is placed by walking ``dest`` one component at a time from an
open directory fd (``openat(O_NOFOLLOW | O_DIRECTORY)``), so no path string
is ever handed to the kernel whole. Names are cleaned first: a leading
``/`` is dropped and ``..`` components are applied lexically; a name that
climbs above the root is refused. Symlinks met on the way, whether from a
lower layer or from an earlier entry of this layer, are resolved as if
``dest`` were ``/`` (``..`` stops at the root, absolute targets restart at
the root), the way containerd's ``fs.RootPath`` and Go's securejoin do. The
final component is never followed: it is created with ``O_EXCL`` /
``mkdirat`` / ``symlinkat`` / ``mknodat`` / ``linkat`` after removing what
was there. Directory fds are cached per directory, so a layer of thousands
of small files costs about one ``openat`` per directory.

Whiteouts (OCI image-spec "Representing Changes")::

    entry                 whiteout_format="overlay"          "vfs"
    .wh.<name>            char device 0:0 named <name>       remove <name>
    .wh..wh..opq          xattr trusted.overlay.opaque=y     remove the dir's
                          on the directory                   lower contents
    .wh..wh.* (AUFS)      ignored                            ignored

Order of metadata on each object: owner (lchown), then mode (chown clears
setuid bits), then xattrs (chown clears ``security.capability``), then
times. Directory modes and times are set after the whole layer, so that
their contents can be written first and their mtimes stay as archived.

Atomicity is the caller's: unpack into a fresh directory and rename it. On
any error ``apply_layer`` raises (``InvalidArgument`` naming the entry for
anything wrong with the layer) and leaves a tree the caller can delete.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Literal

from hull.archive import tarstream as ts
from hull.archive.compression import Compression, decompress_stream
from hull.archive.rootwalk import DIR_FLAGS, Tree, clean_name
from hull.errors import HullError, Internal, InvalidArgument, Unavailable

if TYPE_CHECKING:
    from pathlib import Path

WhiteoutFormat = Literal["overlay", "vfs"]

WHITEOUT_PREFIX = b".wh."
WHITEOUT_META_PREFIX = b".wh..wh."
WHITEOUT_OPAQUE = b".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

GiB = 1 << 30


@dataclass(frozen=True)
class ApplyLimits:
    """Tar-bomb guards; exceeding one raises InvalidArgument naming the entry."""

    max_bytes: int = 64 * GiB  # file data written, in total
    max_entries: int = 4_000_000  # tar entries, extended headers excluded
    max_sparse_apparent_size: int = 256 * GiB  # sum of sparse files' apparent sizes
    max_header_bytes: int = 1 << 20  # one PAX / GNU long-name header
    max_name_bytes: int = 4096  # PATH_MAX


@dataclass(frozen=True)
class IDMap:
    """Container → host id ranges: ``(container_id, host_id, size)`` triples."""

    uids: tuple[tuple[int, int, int], ...] = ()
    gids: tuple[tuple[int, int, int], ...] = ()

    @staticmethod
    def _map(ranges: tuple[tuple[int, int, int], ...], value: int, what: str) -> int:
        for inside, outside, size in ranges:
            if inside <= value < inside + size:
                return outside + value - inside
        raise InvalidArgument(f"{what} {value} is not mapped")

    def uid(self, value: int) -> int:
        """The host uid of a container uid."""
        return self._map(self.uids, value, "uid") if self.uids else value

    def gid(self, value: int) -> int:
        """The host gid of a container gid."""
        return self._map(self.gids, value, "gid") if self.gids else value


@dataclass
class ApplyStats:
    """What a layer put on disk."""

    size: int = 0  # bytes of file data written
    files: int = 0  # entries applied (whiteouts included)
    whiteouts: int = 0


@dataclass
class _DirMeta:
    mode: int
    mtime_ns: int
    atime_ns: int
    comps: list[bytes] = field(default_factory=list)


def _xattr_allowed(name: str, is_root: bool) -> bool:
    if name.startswith("trusted.overlay.") or name.startswith("user.overlay."):
        return False  # overlayfs' own state is never taken from a layer
    if name.startswith("user."):
        return True
    if name == "security.capability":
        return True
    return is_root and name.startswith("trusted.")


class _Applier:
    def __init__(
        self,
        dest: Path,
        whiteout_format: WhiteoutFormat,
        id_map: IDMap | None,
        limits: ApplyLimits,
        allow_devices: bool,
        chown: bool,
    ) -> None:
        if whiteout_format not in ("overlay", "vfs"):
            raise InvalidArgument(
                f"unknown whiteout format '{whiteout_format}' (expected overlay or vfs)"
            )
        self.dest = dest
        self.overlay = whiteout_format == "overlay"
        self.id_map = id_map
        self.limits = limits
        self.allow_devices = allow_devices
        self.chown = chown
        self.is_root = os.geteuid() == 0
        self.stats = ApplyStats()
        self.tree = Tree(dest)
        self.dirs: dict[bytes, _DirMeta] = {}
        self.root_meta: _DirMeta | None = None
        self.sparse_total = 0
        # vfs: real paths this layer wrote, and their ancestors, so that an
        # opaque whiteout removes only what came from lower layers.
        self.touched: set[bytes] | None = None if self.overlay else set()
        self.entries = 0

    # -- helpers ---------------------------------------------------------------------

    def _touch(self, key: bytes) -> None:
        if self.touched is not None:
            while key and key not in self.touched:
                self.touched.add(key)
                key = key.rpartition(b"/")[0]

    def _remove(self, pfd: int, name: bytes) -> None:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=pfd)  # fd-based, never follows symlinks
            self.tree.stale = True
        else:
            os.unlink(name, dir_fd=pfd)
            if stat.S_ISLNK(st.st_mode):
                self.tree.stale = True

    def _owner(self, e: ts.TarEntry) -> tuple[int, int]:
        if self.id_map is None:
            return e.uid, e.gid
        try:
            return self.id_map.uid(e.uid), self.id_map.gid(e.gid)
        except InvalidArgument as exc:
            raise InvalidArgument(f"layer entry '{e.label}': {exc}") from None

    def _xattrs(self, e: ts.TarEntry, target: int | bytes) -> None:
        for key, value in e.xattrs.items():
            if not _xattr_allowed(key, self.is_root):
                continue
            try:
                if isinstance(target, int):
                    os.setxattr(target, key, value)
                else:  # /proc/self/fd/<dir>/<name>: the last component is not followed
                    os.setxattr(target, key, value, follow_symlinks=False)
            except OSError as exc:
                if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
                    continue  # the filesystem cannot store it
                raise

    def _times(self, e: ts.TarEntry) -> tuple[int, int]:
        return (e.atime_ns if e.atime_ns is not None else e.mtime_ns), e.mtime_ns

    # -- the loop --------------------------------------------------------------------

    def run(self, reader: ts.TarReader) -> None:
        limits = self.limits
        for e in reader:
            self.entries += 1
            if self.entries > limits.max_entries:
                raise InvalidArgument(
                    f"layer entry '{e.label}': more than {limits.max_entries} entries"
                )
            if len(e.name) > limits.max_name_bytes or len(e.linkname) > limits.max_name_bytes:
                raise InvalidArgument(f"layer entry '{e.label}': name too long")
            self.tree.trim()
            try:
                self._entry(e, reader)
            except HullError:
                raise
            except OSError as exc:
                raise _os_error(e.label, exc) from exc
            except (ValueError, OverflowError) as exc:  # e.g. a NUL in a PAX path
                raise InvalidArgument(f"layer entry '{e.label}': {exc}") from exc
        self._finish_dirs()

    def _entry(self, e: ts.TarEntry, reader: ts.TarReader) -> None:
        label = e.label
        comps = clean_name(e.name, label)
        if not comps:
            if e.type != ts.DIR:
                raise InvalidArgument(f"layer entry '{label}': only a directory may name the root")
            self.root_meta = _DirMeta(e.mode, e.mtime_ns, self._times(e)[0])
            if self.chown:
                os.chown(self.tree.root_fd, *self._owner(e))
            self._xattrs(e, self.tree.root_fd)
            self.stats.files += 1
            return
        name = comps[-1]
        parent_comps = comps[:-1]
        if name.startswith(WHITEOUT_PREFIX):
            self._whiteout(e, parent_comps, name)
            return
        for c in parent_comps:
            if c.startswith(WHITEOUT_META_PREFIX):
                return  # inside an AUFS metadata dir (.wh..wh.plnk/...)
        d = self.tree.dir(parent_comps, True, label)
        assert d is not None
        pfd = d.fd
        key = d.key + b"/" + name if d.key else name
        self._touch(key)
        typ = e.type
        if typ == ts.REG:
            self._file(e, reader, pfd, name)
        elif typ == ts.DIR:
            self._mkdir(e, pfd, name, key)
        elif typ == ts.SYM:
            self._symlink(e, pfd, name)
        elif typ == ts.LNK:
            self._hardlink(e, pfd, name)
        elif typ in (ts.CHR, ts.BLK, ts.FIFO):
            self._special(e, pfd, name)
        elif typ == ts.GNU_VOLHDR:
            return
        else:
            raise InvalidArgument(f"layer entry '{label}': unsupported tar type {typ!r}")
        self.stats.files += 1

    # -- entry kinds -----------------------------------------------------------------

    def _file(self, e: ts.TarEntry, reader: ts.TarReader, pfd: int, name: bytes) -> None:
        limits = self.limits
        if self.stats.size + e.size > limits.max_bytes:
            raise InvalidArgument(
                f"layer entry '{e.label}': layer data exceeds the limit of {limits.max_bytes} bytes"
            )
        try:
            fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=pfd)
        except FileExistsError:
            self._remove(pfd, name)
            fd = os.open(name, _FILE_FLAGS, 0o600, dir_fd=pfd)
        try:
            if e.sparse is not None:
                self._sparse(e, reader, fd)
            elif e.size:
                reader.copy_data(fd, e.size)
            self.stats.size += e.size
            if self.chown:
                os.fchown(fd, *self._owner(e))
            os.fchmod(fd, e.mode & 0o7777)
            if e.xattrs:
                self._xattrs(e, fd)
            os.utime(fd, ns=self._times(e))
        finally:
            os.close(fd)

    def _sparse(self, e: ts.TarEntry, reader: ts.TarReader, fd: int) -> None:
        assert e.sparse is not None
        limits = self.limits
        self.sparse_total += e.realsize
        if self.sparse_total > limits.max_sparse_apparent_size:
            raise InvalidArgument(
                f"layer entry '{e.label}': sparse files' apparent size exceeds the limit of "
                f"{limits.max_sparse_apparent_size} bytes"
            )
        end = 0
        total = 0
        for offset, length in e.sparse:
            if offset < end or length < 0 or offset + length > e.realsize:
                raise InvalidArgument(f"layer entry '{e.label}': malformed sparse map")
            end = offset + length
            total += length
        if total != e.size:
            raise InvalidArgument(
                f"layer entry '{e.label}': sparse map covers {total} bytes, the entry has {e.size}"
            )
        for offset, length in e.sparse:
            if length:
                os.lseek(fd, offset, os.SEEK_SET)
                reader.copy_data(fd, length)
        os.ftruncate(fd, e.realsize)

    def _mkdir(self, e: ts.TarEntry, pfd: int, name: bytes, key: bytes) -> None:
        try:
            os.mkdir(name, 0o700, dir_fd=pfd)
        except FileExistsError:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                self._remove(pfd, name)
                os.mkdir(name, 0o700, dir_fd=pfd)
        if self.chown or e.xattrs:
            fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
            try:
                if self.chown:
                    os.fchown(fd, *self._owner(e))
                if e.xattrs:
                    self._xattrs(e, fd)
            finally:
                os.close(fd)
        self.dirs[key] = _DirMeta(e.mode, e.mtime_ns, self._times(e)[0])

    def _symlink(self, e: ts.TarEntry, pfd: int, name: bytes) -> None:
        if not e.linkname:
            raise InvalidArgument(f"layer entry '{e.label}': symlink with an empty target")
        try:
            os.symlink(e.linkname, name, dir_fd=pfd)
        except FileExistsError:
            self._remove(pfd, name)
            os.symlink(e.linkname, name, dir_fd=pfd)
        if self.chown:
            os.chown(name, *self._owner(e), dir_fd=pfd, follow_symlinks=False)
        if e.xattrs:
            self._xattrs(e, b"/proc/self/fd/%d/%s" % (pfd, name))
        os.utime(name, ns=self._times(e), dir_fd=pfd, follow_symlinks=False)

    def _hardlink(self, e: ts.TarEntry, pfd: int, name: bytes) -> None:
        label = e.label
        tcomps = clean_name(e.linkname, label)
        target = ts.entry_label(e.linkname)
        if not tcomps:
            raise InvalidArgument(f"layer entry '{label}': hard link to the root '{target}'")
        td = self.tree.dir(tcomps[:-1], False, label)
        tname = tcomps[-1]
        try:
            if td is None:
                raise FileNotFoundError
            st = os.stat(tname, dir_fd=td.fd, follow_symlinks=False)
        except FileNotFoundError:
            raise InvalidArgument(
                f"layer entry '{label}': hard link target '{target}' does not exist in the layer"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(
                f"layer entry '{label}': hard link target '{target}' is a directory"
            )
        assert td is not None
        try:
            os.link(tname, name, src_dir_fd=td.fd, dst_dir_fd=pfd, follow_symlinks=False)
        except FileExistsError:
            lst = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            if lst.st_ino == st.st_ino and lst.st_dev == st.st_dev:
                return  # already that file
            self._remove(pfd, name)
            os.link(tname, name, src_dir_fd=td.fd, dst_dir_fd=pfd, follow_symlinks=False)

    def _special(self, e: ts.TarEntry, pfd: int, name: bytes) -> None:
        if e.type == ts.FIFO:
            kind, dev = stat.S_IFIFO, 0
        else:
            if not self.allow_devices:
                raise InvalidArgument(
                    f"layer entry '{e.label}': device nodes are not allowed here "
                    "(creating them needs root)"
                )
            kind = stat.S_IFCHR if e.type == ts.CHR else stat.S_IFBLK
            dev = os.makedev(e.devmajor, e.devminor)
        try:
            os.mknod(name, kind | 0o600, dev, dir_fd=pfd)
        except FileExistsError:
            self._remove(pfd, name)
            os.mknod(name, kind | 0o600, dev, dir_fd=pfd)
        # We just made it and it is no symlink: following is safe here.
        if self.chown:
            os.chown(name, *self._owner(e), dir_fd=pfd, follow_symlinks=False)
        os.chmod(name, e.mode & 0o7777, dir_fd=pfd)
        if e.xattrs:
            self._xattrs(e, b"/proc/self/fd/%d/%s" % (pfd, name))
        os.utime(name, ns=self._times(e), dir_fd=pfd, follow_symlinks=False)

    # -- whiteouts -------------------------------------------------------------------

    def _whiteout(self, e: ts.TarEntry, parent_comps: list[bytes], name: bytes) -> None:
        label = e.label
        if name == WHITEOUT_OPAQUE:
            self.stats.whiteouts += 1
            self._opaque(e, parent_comps)
            return
        if name.startswith(WHITEOUT_META_PREFIX):
            return  # AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): ignored
        target = name[len(WHITEOUT_PREFIX) :]
        if target in (b"", b".", b".."):
            raise InvalidArgument(f"layer entry '{label}': whiteout names no file")
        self.stats.whiteouts += 1
        self.stats.files += 1
        if self.overlay:
            d = self.tree.dir(parent_comps, True, label)
            assert d is not None
            try:
                os.mknod(target, stat.S_IFCHR | 0o000, 0, dir_fd=d.fd)
            except FileExistsError:
                self._remove(d.fd, target)
                os.mknod(target, stat.S_IFCHR | 0o000, 0, dir_fd=d.fd)
            os.utime(target, ns=self._times(e), dir_fd=d.fd, follow_symlinks=False)
            return
        d = self.tree.dir(parent_comps, False, label)
        if d is None:
            return
        try:
            self._remove(d.fd, target)
        except FileNotFoundError:
            pass

    def _opaque(self, e: ts.TarEntry, parent_comps: list[bytes]) -> None:
        d = self.tree.dir(parent_comps, True, e.label)
        assert d is not None
        if self.overlay:
            os.setxattr(d.fd, OVERLAY_OPAQUE_XATTR, b"y")
            return
        assert self.touched is not None
        self._empty_lower(d.fd, d.key)

    def _empty_lower(self, fd: int, key: bytes) -> None:
        touched = self.touched
        assert touched is not None
        removed_dir = False
        for name in os.listdir(fd):
            bname = os.fsencode(name)
            ckey = key + b"/" + bname if key else bname
            st = os.stat(bname, dir_fd=fd, follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            if ckey in touched:
                if is_dir:
                    cfd = os.open(bname, DIR_FLAGS, dir_fd=fd)
                    try:
                        self._empty_lower(cfd, ckey)
                    finally:
                        os.close(cfd)
                continue
            if is_dir:
                shutil.rmtree(bname, dir_fd=fd)
                removed_dir = True
            else:
                os.unlink(bname, dir_fd=fd)
                removed_dir = removed_dir or stat.S_ISLNK(st.st_mode)
        if removed_dir:
            self.tree.stale = True

    # -- end -------------------------------------------------------------------------

    def _finish_dirs(self) -> None:
        self.tree.trim()
        # Directories: mode and times last, deepest first, never following a
        # symlink that replaced a directory later in the layer.
        for key in sorted(self.dirs, key=lambda k: k.count(b"/"), reverse=True):
            meta = self.dirs[key]
            comps = key.split(b"/")
            d = self.tree.dir(comps[:-1], False, ts.entry_label(key))
            if d is None:
                continue
            try:
                fd = os.open(comps[-1], DIR_FLAGS, dir_fd=d.fd)
            except OSError:
                continue  # replaced or removed later in the layer
            try:
                os.fchmod(fd, meta.mode & 0o7777)
                os.utime(fd, ns=(meta.atime_ns, meta.mtime_ns))
            finally:
                os.close(fd)
        if self.root_meta is not None:
            os.fchmod(self.tree.root_fd, self.root_meta.mode & 0o7777)
            os.utime(self.tree.root_fd, ns=(self.root_meta.atime_ns, self.root_meta.mtime_ns))


def _os_error(label: str, exc: OSError) -> HullError:
    what = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return Unavailable(f"layer entry '{label}': {what} (no space left for the layer)")
    if exc.errno in (errno.EIO,):
        return Internal(f"layer entry '{label}': {what}")
    return InvalidArgument(f"layer entry '{label}': {what}")


def apply_layer(
    stream: BinaryIO,
    dest: Path,
    *,
    whiteout_format: WhiteoutFormat = "overlay",
    id_map: IDMap | None = None,
    limits: ApplyLimits | None = None,
    allow_devices: bool | None = None,
    chown: bool | None = None,
    compression: Compression | None = None,
    threaded: bool = True,
) -> ApplyStats:
    """Unpack a (gzip/zstd/plain) layer tar stream into ``dest``; see the module doc."""
    is_root = os.geteuid() == 0
    applier = _Applier(
        dest,
        whiteout_format,
        id_map,
        limits or ApplyLimits(),
        is_root if allow_devices is None else allow_devices,
        (is_root or id_map is not None) if chown is None else chown,
    )
    src = ts.ChunkSource(decompress_stream(stream, compression), threaded=threaded)
    try:
        reader = ts.TarReader(src, max_header_bytes=applier.limits.max_header_bytes)
        applier.run(reader)
        # Read to the end so that the codec verifies its trailer (gzip CRC).
        src.drain()
    finally:
        src.close()
        applier.tree.close()
    return applier.stats


__all__ = ["ApplyLimits", "ApplyStats", "IDMap", "WhiteoutFormat", "apply_layer"]
