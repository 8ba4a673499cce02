"""Mount targets are pinned by the kernel's own resolution inside the rootfs (openat2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hull.errors import InvalidArgument
from hull.runtime import rootfs


def _ctx(root: Path) -> rootfs.MountContext:
    ctx = rootfs.MountContext(str(root), {}, False, False, False)
    ctx.root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return ctx


def test_a_symlink_swapped_in_after_the_check_cannot_lead_out(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "data").mkdir(parents=True)
    outside = tmp_path / "host"
    (outside / "data").mkdir(parents=True)
    ctx = _ctx(root)
    try:
        dest = rootfs.secure_join(str(root), "/data")
        assert dest == f"{root}/data"
        # the race: the directory becomes a symlink to the host between the
        # check and the mount
        (root / "data").rmdir()
        (root / "data").symlink_to(outside / "data")
        with pytest.raises(InvalidArgument, match="/data"):
            rootfs._pin(str(root), dest, "/data", ctx)  # followed inside: missing there
        # with the same tree inside the rootfs, the pin names the rootfs's copy
        (root / str(outside).lstrip("/") / "data").mkdir(parents=True)
        fd = rootfs._pin(str(root), dest, "/data", ctx)
        try:
            assert os.readlink(f"/proc/self/fd/{fd}") == f"{root}{outside}/data"
        finally:
            os.close(fd)
    finally:
        os.close(ctx.root_fd)


def test_without_openat2_the_path_check_remains(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "ok").mkdir(parents=True)
    ctx = rootfs.MountContext(str(root), {}, False, False, False)  # root_fd -1
    assert rootfs._pin(str(root), f"{root}/ok", "/ok", ctx) == -1
    (root / "bad").symlink_to(tmp_path)
    with pytest.raises(InvalidArgument, match="outside the rootfs"):
        rootfs._pin(str(root), f"{root}/bad", "/bad", ctx)
