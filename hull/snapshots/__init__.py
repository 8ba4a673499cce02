"""Snapshots keyed by chain ID: overlayfs layers, or full copies (vfs) as a fallback.

``create_snapshotter`` is the one place that chooses the backend; callers
type against the ``Snapshotter`` protocol (``base``). Layout of the root::

    <root>/driver       the backend "auto" chose, fixed for this root
    <root>/overlay/     OverlaySnapshotter's data (``overlay``)
    <root>/vfs/         VfsSnapshotter's data (``vfs``)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hull import linux
from hull.errors import InvalidArgument
from hull.snapshots import _fs
from hull.snapshots.base import (
    Kind,
    LayerInfo,
    Mount,
    SnapshotInfo,
    Snapshotter,
    Usage,
    compute_chain_id,
)
from hull.snapshots.overlay import OverlaySnapshotter, overlay_supported
from hull.snapshots.vfs import VfsSnapshotter

if TYPE_CHECKING:
    from pathlib import Path

DRIVERS = ("overlay", "vfs")


def _clear_probes(root: Path) -> None:
    """Remove the leftovers of a probe that crashed (unmounting first)."""
    for name in os.listdir(root):
        if name.startswith("probe-"):
            try:
                linux.umount2(str(root / name / "merged"), linux.MNT_DETACH)
            except OSError:
                pass
            _fs.rmtree(root / name)


def detect_driver(root: Path) -> str:
    """The backend for ``root``: as recorded there, else probed once and recorded."""
    cache = root / "driver"
    try:
        recorded = cache.read_text().strip()
    except FileNotFoundError:
        recorded = ""
    if recorded in DRIVERS:
        return recorded
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    _clear_probes(root)
    why_not = overlay_supported(root)
    driver = "overlay" if why_not is None else "vfs"
    _fs.write_file_atomic(cache, driver)
    return driver


def create_snapshotter(root: Path, driver: str = "auto", *, durable: bool = True) -> Snapshotter:
    """The snapshotter for ``root``: ``"auto"`` (overlay if it works), ``"overlay"``, ``"vfs"``.

    ``durable=False`` skips the sync before a layer is published (tests,
    throwaway roots).
    """
    if driver == "auto":
        driver = detect_driver(root)
    if driver == "overlay":
        return OverlaySnapshotter(root / "overlay", durable=durable)
    if driver == "vfs":
        return VfsSnapshotter(root / "vfs", durable=durable)
    raise InvalidArgument(f"unknown snapshot driver '{driver}' (expected auto, overlay or vfs)")


__all__ = [
    "DRIVERS",
    "Kind",
    "LayerInfo",
    "Mount",
    "OverlaySnapshotter",
    "SnapshotInfo",
    "Snapshotter",
    "Usage",
    "VfsSnapshotter",
    "compute_chain_id",
    "create_snapshotter",
    "detect_driver",
    "overlay_supported",
]
