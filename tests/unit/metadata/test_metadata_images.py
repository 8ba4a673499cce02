from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _metadata_helpers import make_image, with_id

from hull import metadata as md
from hull.errors import InvalidArgument, NotFound
from hull.metadata import Database, ImageRecord
from hull.oci.digest import Digest, digest_bytes


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with Database.open_data_root(tmp_path) as db:
        yield db


def test_put_and_get_round_trip(db: Database) -> None:
    img = make_image("a", parent=None, last_tagged=None)
    stored = md.put_image(db, img)
    assert stored.added is not None
    got = md.get_image(db, img.id)
    assert got == stored
    assert got.config == img.config
    assert got.layers == img.layers
    assert got.labels == {"seed": "a"}
    assert got.manifest_digest == img.manifest_digest
    assert md.has_image(db, img.id)
    assert not md.has_image(db, digest_bytes(b"nope"))


def test_get_missing_is_not_found(db: Database) -> None:
    missing = digest_bytes(b"missing")
    with pytest.raises(NotFound, match=f"no such image: {missing}"):
        md.get_image(db, missing)
    with pytest.raises(NotFound):
        md.delete_image(db, missing)


def test_put_replaces_layers_and_keeps_tags_and_added(db: Database) -> None:
    img = make_image("a", n_layers=3)
    first = md.put_image(db, img)
    md.tag(db, "docker.io/library/a:latest", img.id)
    tagged_at = md.get_image(db, img.id).last_tagged
    assert tagged_at is not None
    fewer = ImageRecord(**{**img.__dict__, "layers": img.layers[:1], "labels": {"x": "y"}})
    again = md.put_image(db, fewer)
    assert again.layers == img.layers[:1]
    assert again.labels == {"x": "y"}
    assert again.added == first.added
    assert again.last_tagged == tagged_at
    assert md.tags_for(db, img.id) == ["docker.io/library/a:latest"]


def test_images_without_manifest_or_blob(db: Database) -> None:
    img = make_image("local", manifest_digest=None, created=None)
    layers = tuple(
        md.ImageLayer(diff_id=layer.diff_id, chain_id=layer.chain_id) for layer in img.layers
    )
    md.put_image(db, ImageRecord(**{**img.__dict__, "layers": layers}))
    got = md.get_image(db, img.id)
    assert got.manifest_digest is None
    assert got.created is None
    assert all(layer.digest is None and layer.media_type is None for layer in got.layers)


def test_list_images_newest_first(db: Database) -> None:
    old = md.put_image(db, make_image("old", created=1.0))
    new = md.put_image(db, make_image("new", created=2.0))
    assert [i.id for i in md.list_images(db)] == [new.id, old.id]
    assert md.list_images(db)[0].layers == new.layers


def test_prefix_lookup(db: Database) -> None:
    a = md.put_image(db, with_id("abc1", "a"))
    b = md.put_image(db, with_id("abc2", "b"))
    md.put_image(db, with_id("def", "c"))
    # unique
    assert md.find_image(db, "abc1").id == a.id
    assert md.find_image(db, "sha256:abc2").id == b.id
    assert md.find_image(db, a.id.hex).id == a.id
    assert md.find_image(db, str(a.id)).id == a.id
    # ambiguous: Docker's words, a 400
    with pytest.raises(InvalidArgument, match="multiple IDs found with provided prefix: abc"):
        md.find_image(db, "abc")
    assert md.find_images(db, "abc") == sorted([a.id, b.id])
    # none
    for prefix in ["abd", "0", "sha512:abc", "xyz", "", "sha256:", "ABC1", "a%", "a_"]:
        with pytest.raises(NotFound):
            md.find_image(db, prefix)
        assert md.find_images(db, prefix) == []
    assert md.find_images(db, "a" * 65) == []


def test_tags(db: Database) -> None:
    a = md.put_image(db, make_image("a"))
    b = md.put_image(db, make_image("b"))
    ref = "docker.io/library/app:latest"
    assert md.tag(db, ref, a.id) is None
    assert md.resolve_tag(db, ref) == a.id
    assert md.tag(db, ref, a.id) == a.id  # re-tag: same image
    # the tag moves: previous owner returned
    assert md.tag(db, ref, b.id) == a.id
    assert md.resolve_tag(db, ref) == b.id
    assert md.tags_for(db, a.id) == []
    assert md.tags_for(db, b.id) == [ref]
    md.tag(db, "docker.io/library/app@sha256:" + "e" * 64, b.id)
    assert md.tags_for(db, b.id) == [
        "docker.io/library/app:latest",
        f"docker.io/library/app@sha256:{'e' * 64}",
    ]
    assert [r for r, _ in md.list_tags(db)] == sorted(md.tags_for(db, b.id))
    assert md.untag(db, ref) == b.id
    with pytest.raises(NotFound, match=f"no such image: {ref}"):
        md.untag(db, ref)
    with pytest.raises(NotFound):
        md.resolve_tag(db, ref)
    with pytest.raises(NotFound, match="no such image"):
        md.tag(db, ref, digest_bytes(b"missing"))
    with pytest.raises(InvalidArgument):
        md.tag(db, "", a.id)


def test_delete_cascades_to_layers_and_tags(db: Database) -> None:
    parent = md.put_image(db, make_image("parent"))
    child = md.put_image(db, make_image("child", parent=parent.id))
    assert md.children(db, parent.id) == [child.id]
    md.tag(db, "docker.io/library/p:1", parent.id)
    md.tag(db, "docker.io/library/p:2", parent.id)
    assert md.delete_image(db, parent.id) == ["docker.io/library/p:1", "docker.io/library/p:2"]
    conn = db.connection()
    assert (
        conn.execute(
            "SELECT count(*) FROM image_layers WHERE image_id = ?", (str(parent.id),)
        ).fetchone()[0]
        == 0
    )
    assert conn.execute("SELECT count(*) FROM tags").fetchone()[0] == 0
    # the child survives, its parent link cleared
    assert md.get_image(db, child.id).parent is None
    assert db.integrity_check() == ["ok"]


def test_chain_id_users(db: Database) -> None:
    base = make_image("base", n_layers=1)
    md.put_image(db, base)
    # a second image sharing the bottom layer
    other = make_image("other", n_layers=2)
    shared = ImageRecord(**{**other.__dict__, "layers": (base.layers[0], other.layers[1])})
    md.put_image(db, shared)
    assert md.images_with_chain_id(db, base.layers[0].chain_id) == sorted([base.id, shared.id])


def test_gc_roots(db: Database) -> None:
    img = md.put_image(db, make_image("a"))
    no_manifest = md.put_image(db, make_image("b", manifest_digest=None))
    blobs = md.referenced_blobs(db)
    expected = {img.id, no_manifest.id}
    for i in (img, no_manifest):
        if i.manifest_digest:
            expected.add(i.manifest_digest)
        expected |= {layer.digest for layer in i.layers if layer.digest}
    assert blobs == expected
    assert md.referenced_chain_ids(db) == {
        str(layer.chain_id) for i in (img, no_manifest) for layer in i.layers
    }
    md.delete_image(db, img.id)
    assert img.id not in md.referenced_blobs(db)


def test_digest_values_survive(db: Database) -> None:
    img = make_image("a")
    md.put_image(db, img)
    got = md.get_image(db, img.id)
    assert isinstance(got.id, Digest)
    assert all(isinstance(layer.chain_id, Digest) for layer in got.layers)
