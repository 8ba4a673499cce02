"""Container and volume records: Docker's lookup rules and conflicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from hull.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from hull.metadata import (
    ContainerRecord,
    Database,
    VolumeRecord,
    add_volume_ref,
    containers_using_image,
    delete_container,
    delete_volume,
    find_container,
    get_volume,
    list_containers,
    put_container,
    put_volume,
    rename_container,
    update_container,
    volume_users,
)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(tmp_path / "hull.db")


def rec(cid: str, name: str, **kw: object) -> ContainerRecord:
    fields: dict[str, object] = {
        "id": cid * 64 if len(cid) == 1 else cid,
        "name": name,
        "image_id": "sha256:" + "ab" * 32,
        "image_ref": "busybox",
        "config": {"Cmd": ["sh"]},
        "host_config": {"Memory": 0},
        "runtime": "hull-runtime",
    }
    fields.update(kw)
    return ContainerRecord(**fields)  # type: ignore[arg-type]


def test_lookup_by_id_name_and_prefix(db: Database) -> None:
    a = put_container(db, rec("a" * 63 + "1", "web"))
    put_container(db, rec("a" * 63 + "2", "db"))
    assert find_container(db, a.id).name == "web"
    assert find_container(db, "web").id == a.id
    assert find_container(db, "/web").id == a.id
    assert find_container(db, "a" * 63 + "1").id == a.id
    with pytest.raises(InvalidArgument, match="multiple IDs found with provided prefix: aaaa"):
        find_container(db, "aaaa")
    with pytest.raises(NotFound, match="No such container: nope"):
        find_container(db, "nope")


def test_name_wins_over_id_prefix(db: Database) -> None:
    put_container(db, rec("b", "cafe"))
    c = put_container(db, rec("c" * 60 + "cafe", "other"))
    # "cafe" is a name first, as in Docker
    assert find_container(db, "cafe").id == "b" * 64
    assert find_container(db, "cccc").id == c.id


def test_name_conflict_is_dockers_message(db: Database) -> None:
    put_container(db, rec("a", "web"))
    with pytest.raises(AlreadyExists, match=r'The container name "/web" is already in use'):
        put_container(db, rec("b", "web"))
    with pytest.raises(InvalidArgument, match="Invalid container name"):
        put_container(db, rec("c", "bad/name"))


def test_update_rename_delete(db: Database) -> None:
    put_container(db, rec("a", "web"))
    put_container(db, rec("b", "db"))
    got = update_container(db, "a" * 64, state={"Running": True, "Pid": 42}, restart_count=2)
    assert got.state["Pid"] == 42 and got.restart_count == 2
    with pytest.raises(Conflict, match="already in use"):
        rename_container(db, "a" * 64, "db")
    rename_container(db, "a" * 64, "web2")
    assert find_container(db, "web2").id == "a" * 64
    assert containers_using_image(db, "sha256:" + "ab" * 32) == ["a" * 64, "b" * 64]
    delete_container(db, "a" * 64)
    assert [c.name for c in list_containers(db)] == ["db"]


def test_volumes_in_use_cannot_be_removed(db: Database, tmp_path: Path) -> None:
    put_container(db, rec("a", "web"))
    put_volume(db, VolumeRecord(name="data", mountpoint=str(tmp_path / "data")))
    with pytest.raises(AlreadyExists):
        put_volume(db, VolumeRecord(name="data", mountpoint="/x"))
    add_volume_ref(db, "data", "a" * 64)
    assert volume_users(db, "data") == ["a" * 64]
    with pytest.raises(Conflict, match=r"remove data: volume is in use - \[a+\]"):
        delete_volume(db, "data")
    delete_container(db, "a" * 64)  # its references go with it
    delete_volume(db, "data")
    with pytest.raises(NotFound, match="no such volume"):
        get_volume(db, "data")
