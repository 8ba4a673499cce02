from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _metadata_helpers import make_image

from hull import metadata as md
from hull.errors import AlreadyExists, InvalidArgument, NotFound
from hull.metadata import Database
from hull.oci.digest import digest_bytes


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database.open_data_root(tmp_path) as db:
        yield db


def test_create_get_list_delete(db: Database) -> None:
    lease = md.create_lease(db, "pull-1", labels={"ref": "busybox"})
    assert md.get_lease(db, "pull-1") == lease
    auto = md.create_lease(db)
    assert auto.id.startswith("hull-")
    assert [x.id for x in md.list_leases(db)] == ["pull-1", auto.id]
    with pytest.raises(AlreadyExists, match="lease pull-1 already exists"):
        md.create_lease(db, "pull-1")
    md.delete_lease(db, "pull-1")
    with pytest.raises(NotFound, match="no such lease: pull-1"):
        md.get_lease(db, "pull-1")
    with pytest.raises(NotFound):
        md.delete_lease(db, "pull-1")
    with pytest.raises(InvalidArgument):
        md.create_lease(db, "")


def test_resources(db: Database) -> None:
    md.create_lease(db, "l")
    blob = digest_bytes(b"blob")
    md.add_lease_resource(db, "l", "content", str(blob))
    md.add_lease_resource(db, "l", "content", str(blob))  # idempotent
    md.add_lease_resource(db, "l", "snapshot", "extract-123-sha256:abc")
    md.add_lease_resource(db, "l", "ingest", "pull-layer-1")
    assert md.lease_resources(db, "l") == [
        md.LeaseResource("content", str(blob)),
        md.LeaseResource("ingest", "pull-layer-1"),
        md.LeaseResource("snapshot", "extract-123-sha256:abc"),
    ]
    assert blob in md.referenced_blobs(db)
    assert "extract-123-sha256:abc" in md.referenced_chain_ids(db)
    assert md.leased_ingests(db) == {"pull-layer-1"}
    md.remove_lease_resource(db, "l", "ingest", "pull-layer-1")
    assert md.leased_ingests(db) == set()
    with pytest.raises(InvalidArgument, match="unknown lease resource kind"):
        md.add_lease_resource(db, "l", "volume", "x")
    with pytest.raises(InvalidArgument, match="invalid digest"):
        md.add_lease_resource(db, "l", "content", "not-a-digest")
    with pytest.raises(NotFound):
        md.add_lease_resource(db, "missing", "ingest", "x")
    with pytest.raises(NotFound):
        md.lease_resources(db, "missing")
    # deleting the lease releases everything
    md.delete_lease(db, "l")
    assert md.referenced_blobs(db) == set()
    assert md.referenced_chain_ids(db) == set()


def test_expiry(db: Database) -> None:
    md.create_lease(db, "old", expires=100.0)
    md.create_lease(db, "new", expires=300.0)
    md.create_lease(db, "forever")
    for lease_id in ("old", "new", "forever"):
        md.add_lease_resource(db, lease_id, "ingest", lease_id)
    # an expired lease protects nothing, even before it is removed
    assert md.leased_ingests(db, now=200.0) == {"new", "forever"}
    assert md.expire_leases(db, now=200.0) == ["old"]
    assert {x.id for x in md.list_leases(db)} == {"new", "forever"}
    assert md.expire_leases(db, now=1e12) == ["new"]
    assert md.leased_ingests(db) == {"forever"}


def test_roots_union_images_and_leases(db: Database) -> None:
    img = md.put_image(db, make_image("a", n_layers=1))
    md.create_lease(db, "l")
    extra = digest_bytes(b"extra")
    md.add_lease_resource(db, "l", "content", str(extra))
    md.add_lease_resource(db, "l", "content", str(img.id))  # overlap is fine
    roots = md.referenced_blobs(db)
    assert extra in roots and img.id in roots
    assert img.layers[0].digest in roots
