"""The local volume driver: names, reuse, filters, in-use removal, prune, copy-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hull.engine.volumes import VolumeManager, to_json
from hull.errors import Conflict, InvalidArgument, NotFound
from hull.metadata import ContainerRecord, Database, put_container


@pytest.fixture
def vm(tmp_path: Path) -> VolumeManager:
    return VolumeManager(tmp_path, Database.open(tmp_path / "hull.db"))


def container(db: Database, c: str) -> str:
    put_container(
        db,
        ContainerRecord(
            id=c * 64, name=f"ctr{c}", image_id="x", image_ref="x", config={},
            host_config={}, runtime="hull-runtime",
        ),
    )  # fmt: skip
    return c * 64


def test_create_is_idempotent_and_shaped_like_docker(vm: VolumeManager) -> None:
    v = vm.create("data", labels={"team": "a"})
    assert Path(v.mountpoint).is_dir()
    assert Path(v.mountpoint).name == "_data"
    assert vm.create("data").created == v.created
    j = to_json(vm.get("data"))
    assert j["Name"] == "data" and j["Driver"] == "local" and j["Scope"] == "local"
    assert j["Labels"] == {"team": "a"}
    assert j["CreatedAt"][4] == "-"
    anon = vm.create()
    assert len(anon.name) == 64 and anon.anonymous


def test_bad_names_and_drivers(vm: VolumeManager) -> None:
    for bad in ("a", "../etc", "with space", "/abs"):
        with pytest.raises(InvalidArgument, match="invalid characters"):
            vm.create(bad)
    with pytest.raises(InvalidArgument, match="plugin not found"):
        vm.create("x1", driver="nfs")


def test_in_use_volume_is_kept(vm: VolumeManager) -> None:
    cid = container(vm.db, "a")
    vm.use("data", cid)
    with pytest.raises(Conflict, match="volume is in use"):
        vm.remove("data")
    assert [v.name for v in vm.ls({"dangling": ["false"]})] == ["data"]
    assert vm.ls({"dangling": ["true"]}) == []
    vm.remove("missing", force=True)
    with pytest.raises(NotFound, match="no such volume"):
        vm.remove("missing")


def test_prune_takes_anonymous_unless_all(vm: VolumeManager) -> None:
    named = vm.create("named")
    anon = vm.create()
    (Path(anon.mountpoint) / "f").write_bytes(b"x" * 100)
    res = vm.prune()
    assert res["VolumesDeleted"] == [anon.name] and res["SpaceReclaimed"] == 100
    assert not Path(anon.mountpoint).exists()
    assert vm.prune(all_volumes=True)["VolumesDeleted"] == [named.name]


def test_copy_up_keeps_owners_modes_and_links(vm: VolumeManager, tmp_path: Path) -> None:
    img = tmp_path / "image" / "var" / "lib" / "app"
    (img / "sub").mkdir(parents=True)
    (img / "conf").write_text("x=1")
    os.chmod(img / "conf", 0o640)
    os.chown(img / "conf", 1000, 1001)
    (img / "link").symlink_to("/etc/passwd")
    (img / "sub" / "deep").write_text("deep")
    os.chown(img / "sub", 7, 8)
    vol = vm.create("appdata")
    assert vm.copy_up(img, vol)
    dest = Path(vol.mountpoint)
    st = os.stat(dest / "conf")
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o640, 1000, 1001)
    assert os.readlink(dest / "link") == "/etc/passwd"
    assert (dest / "sub" / "deep").read_text() == "deep"
    assert os.stat(dest / "sub").st_uid == 7
    # a volume with content is never overwritten
    (img / "conf").write_text("x=2")
    assert not vm.copy_up(img, vol)
    assert (dest / "conf").read_text() == "x=1"
