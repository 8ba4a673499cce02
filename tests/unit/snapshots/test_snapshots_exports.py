import importlib
from pathlib import Path

import pytest


@pytest.mark.parametrize("package", ["hull.snapshots", "hull.snapshots.base"])
def test_public_api_is_complete(package: str) -> None:
    mod = importlib.import_module(package)
    public = {n for n in vars(mod) if not n.startswith("_")}
    imported_modules = {n for n in public if type(getattr(mod, n)).__name__ == "module"}
    declared = set(mod.__all__)
    assert declared <= public
    for name in public - imported_modules - declared:
        obj = getattr(mod, name)
        assert not getattr(obj, "__module__", "").startswith(package), name


def test_backends_satisfy_the_protocol(tmp_path: Path) -> None:
    from hull.snapshots import OverlaySnapshotter, Snapshotter, VfsSnapshotter

    # A static check in effect: mypy verifies these assignments.
    a: Snapshotter = VfsSnapshotter(tmp_path / "vfs")
    b: Snapshotter = OverlaySnapshotter(tmp_path / "overlay")
    assert {a.driver, b.driver} == {"vfs", "overlay"}
