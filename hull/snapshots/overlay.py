"""The overlayfs snapshotter (containerd's ``plugins/snapshots/overlay``, Docker's overlay2).

Layout under ``root`` (beside the shared one in ``_local``)::

    layers/<hex>/diff/      the layer's changes, whiteouts in overlay form
                            (char device 0:0, ``trusted.overlay.opaque=y``)
    layers/<hex>/link       the layer's short id, e.g. ``7KQ3…`` (26 chars)
    layers/<hex>/lower      its ancestors' short links, parent first:
                            ``l/<parent id>:l/<grandparent id>:…``
    l/<short id>            symlink → ``../layers/<hex>/diff``
    active/<key>/upper/     an active snapshot's changes
    active/<key>/work/      overlayfs' work dir

Short links keep the ``lowerdir=`` option of a deep image short: mounts
name lower dirs as ``<root>/l/<id>``, and when a hundred of those still
exceed the kernel's one-page limit ``_mount`` rewrites them relative to
``<root>/l`` and mounts from a child that chdir-ed there (overlay2's trick).

Mount options: ``index=off`` (no inode index: layers are shared by many
mounts and the index would tie an upper dir to one set of lowers),
``redirect_dir=off`` (renaming a lower directory copies it up instead of
leaving a redirect xattr, so the upper dir stays a plain OCI diff) and
``metacopy=off`` (a chmod copies the data up, for the same reason). We run
as root, so whiteouts are real char devices and ``userxattr`` is not needed.

Special cases: a snapshot without a parent is a bind mount of its upper
dir; a view of one layer is a read-only bind mount of that layer (overlayfs
needs two lower dirs when there is no upper dir).
"""

from __future__ import annotations

import base64
import builtins
import os
import stat
from typing import TYPE_CHECKING

from hull.archive import diff_dir
from hull.errors import HullError
from hull.snapshots import _fs, _mount
from hull.snapshots._local import LocalSnapshotter
from hull.snapshots.base import Kind, Mount

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import BinaryIO

    from hull.oci.digest import Digest

OVERLAY_OPTIONS = ["index=off", "redirect_dir=off", "metacopy=off"]


def _short_id() -> str:
    # 16 random bytes in base32: 26 characters of A-Z2-7, never ':' or ','.
    return base64.b32encode(os.urandom(16)).decode().rstrip("=")


class OverlaySnapshotter(LocalSnapshotter):
    """Layers as overlayfs lower dirs, active snapshots as upper dirs."""

    driver_name = "overlay"
    whiteout_format = "overlay"

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        super().__init__(root, durable=durable)
        self.links = root / "l"
        self.links.mkdir(mode=0o700, exist_ok=True)

    # -- layers ------------------------------------------------------------------------

    # each layer is a directory of its own: layers of one image unpack side by side
    independent_layers = True

    def _fill_layer(self, diff: Path, parent: Digest | None) -> None:
        _fs.empty_dir_like(diff)

    def _link_layer(
        self, tmp: Path, chain_id: Digest, parent: Digest | None
    ) -> Callable[[], None] | None:
        lower = ""
        if parent is not None:
            pdir = self.layer_dir(parent)
            plink = (pdir / "link").read_text().strip()
            plower = (pdir / "lower").read_text().strip()
            lower = f"l/{plink}" + (f":{plower}" if plower else "")
        while True:
            short = _short_id()
            link = self.links / short
            try:
                os.symlink(f"../layers/{chain_id.hex}/diff", link)
                break
            except FileExistsError:
                continue
        try:
            _fs.write_file(tmp / "link", short)
            _fs.write_file(tmp / "lower", lower)
        except BaseException:
            link.unlink(missing_ok=True)
            raise
        return lambda: link.unlink(missing_ok=True)

    def _unlink_layer(self, layer_dir: Path) -> None:
        try:
            short = (layer_dir / "link").read_text().strip()
        except FileNotFoundError:
            return
        if short:
            (self.links / short).unlink(missing_ok=True)

    def _lowers(self, parent: Digest) -> builtins.list[str]:
        """Absolute lower dirs of a snapshot on ``parent``, topmost first."""
        pdir = self.layer_dir(parent)
        entries = [f"l/{(pdir / 'link').read_text().strip()}"]
        lower = (pdir / "lower").read_text().strip()
        if lower:
            entries.extend(lower.split(":"))
        return [str(self.root / e) for e in entries]

    def _cleanup_extra(self) -> None:
        for name in os.listdir(self.links):
            link = self.links / name
            if link.is_symlink() and not link.exists():
                link.unlink()  # its layer was never published or was removed

    # -- snapshots ---------------------------------------------------------------------

    def _make_active(self, tmp: Path, parent: Digest | None, kind: Kind) -> None:
        if kind is Kind.VIEW and parent is not None:
            return  # a view has no upper dir
        upper = tmp / "upper"
        _fs.empty_dir_like(upper)
        if parent is not None:
            # The merged root shows the upper dir's owner and mode: take the parent's.
            st = os.stat(self.layer_dir(parent) / "diff")
            os.chown(upper, st.st_uid, st.st_gid)
            os.chmod(upper, stat.S_IMODE(st.st_mode))
        if kind is Kind.ACTIVE:
            (tmp / "work").mkdir(mode=0o700)

    def _active_data(self, adir: Path) -> Path:
        return adir / "upper"

    def _mounts(self, adir: Path, parent: Digest | None, kind: Kind) -> builtins.list[Mount]:
        ro = "ro" if kind is Kind.VIEW else "rw"
        if parent is None:
            return [Mount("bind", str(adir / "upper"), options=["rbind", ro])]
        lowers = self._lowers(parent)
        if kind is Kind.VIEW:
            if len(lowers) == 1:
                src = str(self.layer_dir(parent) / "diff")
                return [Mount("bind", src, options=["rbind", "ro"])]
            return [
                Mount("overlay", "overlay", options=[*OVERLAY_OPTIONS, "ro", _lowerdir(lowers)])
            ]
        return [
            Mount(
                "overlay",
                "overlay",
                options=[
                    *OVERLAY_OPTIONS,
                    f"workdir={adir / 'work'}",
                    f"upperdir={adir / 'upper'}",
                    _lowerdir(lowers),
                ],
            )
        ]

    def _write_diff(self, adir: Path, parent: Digest | None, out: BinaryIO) -> None:
        diff_dir(adir / "upper", out, format="overlay")


def _lowerdir(lowers: builtins.list[str]) -> str:
    return "lowerdir=" + ":".join(lowers)


def overlay_supported(scratch: Path) -> str | None:
    """Try a real overlay mount under ``scratch`` (a dir); None if it works, else why not.

    Checks what the snapshotter relies on: our mount options, a char-device
    whiteout and an opaque directory in a lower layer, and whiteout creation
    when a lower file is deleted through the mount.
    """
    if os.geteuid() != 0:
        return "overlay whiteouts and trusted.* xattrs need root"
    base = scratch / f"probe-{os.urandom(6).hex()}"
    lower1, lower2, upper, work, merged = (
        base / n for n in ("lower1", "lower2", "upper", "work", "merged")
    )
    mounted = False
    try:
        for d in (lower1, lower2, upper, work, merged, lower1 / "d", lower2 / "d"):
            d.mkdir(parents=True)
        (lower1 / "a").write_bytes(b"a")
        (lower1 / "b").write_bytes(b"b")
        (lower1 / "d" / "x").write_bytes(b"x")
        (lower2 / "d" / "y").write_bytes(b"y")
        os.mknod(lower2 / "a", stat.S_IFCHR | 0o000, 0)
        os.setxattr(lower2 / "d", "trusted.overlay.opaque", b"y")
        options = [
            *OVERLAY_OPTIONS,
            f"workdir={work}",
            f"upperdir={upper}",
            _lowerdir([str(lower2), str(lower1)]),
        ]
        _mount.mount_all([Mount("overlay", "overlay", options=options)], merged)
        mounted = True
        if (merged / "a").exists():
            return "a whiteout in a lower layer does not hide the file"
        if sorted(os.listdir(merged / "d")) != ["y"]:
            return "an opaque directory in a lower layer does not hide lower entries"
        (merged / "b").unlink()
        (merged / "new").write_bytes(b"n")
        st = os.lstat(upper / "b")
        if not stat.S_ISCHR(st.st_mode) or st.st_rdev != 0:
            return "deleting a lower file does not leave a char-device whiteout"
        return None
    except (OSError, HullError) as exc:
        return f"overlay mount failed: {exc}"
    finally:
        if mounted:
            try:
                _mount.unmount(merged, detach=True)
            except HullError:
                pass
        _fs.rmtree(base)


__all__ = ["OVERLAY_OPTIONS", "OverlaySnapshotter", "overlay_supported"]
