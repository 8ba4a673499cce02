"""The vfs snapshotter: full copies, for when overlayfs is not available.

Every layer's ``diff/`` is the complete tree (its parent's copy with the
layer applied, whiteouts applied as deletions); an active snapshot's
``fs/`` is a full copy of its parent (``cp -a`` semantics, see ``_fs``) and
is mounted as a bind mount. A view binds the layer itself read-only, so it
costs nothing. Slow and large, but it works on any filesystem.

Layout under ``root`` (beside the shared one in ``_local``)::

    layers/<hex>/diff/      the whole tree of the image up to this layer
    active/<key>/fs/        an active snapshot's whole tree

``diff`` compares the active tree with its parent's and writes the changes
as an OCI layer: entries that are new, or whose type, mode, owner, xattrs,
size, mtime, symlink target or device number differ (directories: all but
size and mtime), and ``.wh.<name>`` for what was deleted. Limits: file
contents are not compared, so a rewrite keeping size and mtime (to the
nanosecond) is missed; a directory deleted and made again is diffed as the
same directory (whiteouts for its missing entries, never an opaque marker).
The changes are staged as hard links in a temp tree (whiteouts as char
devices 0:0) and archived by ``hull.archive.diff_dir``, so the tar format is
the overlay snapshotter's.
"""

from __future__ import annotations

import builtins
import os
import stat
from typing import TYPE_CHECKING

from hull.archive import diff_dir
from hull.snapshots import _fs
from hull.snapshots._local import LocalSnapshotter
from hull.snapshots.base import Kind, Mount

if TYPE_CHECKING:
    from pathlib import Path
    from typing import BinaryIO

    from hull.oci.digest import Digest


def _xattrs(path: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
    return out


def _differs(old: os.stat_result, new: os.stat_result, opath: str, npath: str) -> bool:
    """Whether the entry changed between the parent and the snapshot."""
    if stat.S_IFMT(old.st_mode) != stat.S_IFMT(new.st_mode):
        return True
    if (old.st_mode, old.st_uid, old.st_gid) != (new.st_mode, new.st_uid, new.st_gid):
        return True
    is_dir = stat.S_ISDIR(new.st_mode)
    if not is_dir:
        if old.st_mtime_ns != new.st_mtime_ns or old.st_size != new.st_size:
            return True
        if stat.S_ISLNK(new.st_mode) and os.readlink(opath) != os.readlink(npath):
            return True
        if (stat.S_ISCHR(new.st_mode) or stat.S_ISBLK(new.st_mode)) and (
            old.st_rdev != new.st_rdev
        ):
            return True
    return _xattrs(opath) != _xattrs(npath)


class _Stager:
    """Stage the changes of a tree against its parent as an overlay-style upper dir."""

    def __init__(self) -> None:
        self.dirs: builtins.list[tuple[str, os.stat_result]] = []

    @staticmethod
    def _entries(path: str | None) -> dict[str, os.stat_result]:
        if path is None:
            return {}
        with os.scandir(path) as it:
            return {e.name: e.stat(follow_symlinks=False) for e in it}

    def walk(self, old: str | None, new: str, stage: str) -> bool:
        """Stage dir ``new`` against ``old`` (None: everything is new); True if any change."""
        olds = self._entries(old)
        news = self._entries(new)
        changed = False
        for name in sorted(news):
            nst = news[name]
            npath, spath = os.path.join(new, name), os.path.join(stage, name)
            ost = olds.get(name)
            opath = None if old is None else os.path.join(old, name)
            if stat.S_ISDIR(nst.st_mode):
                was_dir = ost is not None and opath is not None and stat.S_ISDIR(ost.st_mode)
                os.mkdir(spath, 0o700)
                sub = self.walk(opath if was_dir else None, npath, spath)
                if (
                    sub
                    or ost is None
                    or opath is None
                    or not was_dir
                    or _differs(ost, nst, opath, npath)
                ):
                    os.chown(spath, nst.st_uid, nst.st_gid)
                    _fs.copy_xattrs(npath, spath)
                    self.dirs.append((spath, nst))
                    changed = True
                else:
                    os.rmdir(spath)
                continue
            if stat.S_ISSOCK(nst.st_mode):
                continue
            if ost is None or opath is None or _differs(ost, nst, opath, npath):
                # A hard link: the archiver reads this very inode's data and metadata.
                os.link(npath, spath, follow_symlinks=False)
                changed = True
        for name in sorted(olds.keys() - news.keys()):
            os.mknod(os.path.join(stage, name), stat.S_IFCHR | 0o000, 0)  # a whiteout
            changed = True
        return changed

    def finish(self) -> None:
        for path, st in self.dirs:  # children before parents
            os.chmod(path, stat.S_IMODE(st.st_mode))
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


class VfsSnapshotter(LocalSnapshotter):
    """Every layer and snapshot a full copy of its parent."""

    driver_name = "vfs"
    whiteout_format = "vfs"

    def _fill_layer(self, diff: Path, parent: Digest | None) -> None:
        if parent is None:
            _fs.empty_dir_like(diff)
        else:
            _fs.copy_tree(self.layer_dir(parent) / "diff", diff)

    def _make_active(self, tmp: Path, parent: Digest | None, kind: Kind) -> None:
        if kind is Kind.VIEW and parent is not None:
            return  # a view binds the layer itself
        self._fill_layer(tmp / "fs", parent)

    def _active_data(self, adir: Path) -> Path:
        return adir / "fs"

    def _mounts(self, adir: Path, parent: Digest | None, kind: Kind) -> builtins.list[Mount]:
        if kind is Kind.VIEW:
            src = adir / "fs" if parent is None else self.layer_dir(parent) / "diff"
            return [Mount("bind", str(src), options=["rbind", "ro"])]
        return [Mount("bind", str(adir / "fs"), options=["rbind", "rw"])]

    def _write_diff(self, adir: Path, parent: Digest | None, out: BinaryIO) -> None:
        stage = self._mktemp(self.active)  # same filesystem: hard links work
        try:
            old = None if parent is None else str(self.layer_dir(parent) / "diff")
            stager = _Stager()
            stager.walk(old, str(adir / "fs"), str(stage))
            stager.finish()
            diff_dir(stage, out, format="overlay")
        finally:
            _fs.rmtree(stage)


__all__ = ["VfsSnapshotter"]
