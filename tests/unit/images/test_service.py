"""ImageService: Docker's naming, removal, listing and GC rules."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_service_helpers import layer_tar, make_image

from hull import metadata as md
from hull.errors import Conflict, InvalidArgument, NotFound
from hull.images import ImageService, UsedBy, short_id


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    s = ImageService(tmp_path / "root", snapshotter="vfs", durable=False)
    try:
        yield s
    finally:
        s.close()


# -- resolve -----------------------------------------------------------------------------


def test_resolve_rules(svc: ImageService) -> None:
    a = make_image(svc, "a", ["busybox", "team/app:v1", "localhost:5000/x/y:2"])
    hexid = a.id.hex
    for name in (
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        "team/app:v1",
        "docker.io/team/app:v1",
        "localhost:5000/x/y:2",
        hexid,
        f"sha256:{hexid}",
        hexid[:12],
        hexid[:3],
        f"sha256:{hexid[:8]}",
    ):
        assert svc.resolve(name).id == a.id, name
    md.tag(svc.db, f"docker.io/library/busybox@{a.id}", a.id)
    assert svc.resolve(f"busybox@{a.id}").id == a.id


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nosuch", "No such image: nosuch:latest"),
        ("busybox:1.36", "No such image: busybox:1.36"),
        ("docker.io/library/nosuch", "No such image: nosuch:latest"),
        ("sha256:" + "0" * 64, "No such image: sha256:" + "0" * 64),
        ("localhost:5000/app", "No such image: localhost:5000/app:latest"),
    ],
)
def test_resolve_not_found_uses_dockers_words(svc: ImageService, name: str, message: str) -> None:
    make_image(svc, "a", ["busybox"])
    with pytest.raises(NotFound) as exc:
        svc.resolve(name)
    assert str(exc.value) == message


def test_resolve_ambiguous_prefix_is_not_found(svc: ImageService) -> None:
    ids = [make_image(svc, f"s{i}").id.hex for i in range(20)]
    firsts = [i[0] for i in ids]
    common = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(NotFound):
        svc.resolve(common)
    with pytest.raises(InvalidArgument):
        svc.resolve("UPPER")


def test_tag_and_untag(svc: ImageService) -> None:
    a = make_image(svc, "a", ["busybox"])
    assert str(svc.tag("busybox", "mine:1")) == "docker.io/library/mine:1"
    assert svc.resolve("mine:1").id == a.id
    with pytest.raises(InvalidArgument):
        svc.tag("busybox", f"mine@{a.id}")
    assert svc.untag("mine:1") == a.id
    with pytest.raises(NotFound, match="No such image: mine:1"):
        svc.untag("mine:1")
    assert svc.resolve("busybox").id == a.id


def test_a_tag_moves_and_leaves_the_old_image_dangling(svc: ImageService) -> None:
    a = make_image(svc, "a", ["app"])
    b = make_image(svc, "b", ["app"])
    assert svc.resolve("app").id == b.id
    dangling = svc.list_images({"dangling": ["true"]})
    assert [d["Id"] for d in dangling] == [str(a.id)]
    assert dangling[0]["RepoTags"] == ["<none>:<none>"]


# -- remove ------------------------------------------------------------------------------


def test_remove_by_name_untags_only_that_name(svc: ImageService) -> None:
    a = make_image(svc, "a", ["one", "two:x"])
    assert svc.remove("one") == [{"Untagged": "one:latest"}]
    assert svc.resolve("two:x").id == a.id
    out = svc.remove("two:x")
    assert out[:2] == [{"Untagged": "two:x"}, {"Deleted": str(a.id)}]
    with pytest.raises(NotFound):
        svc.resolve(str(a.id))


def test_remove_by_id_with_several_repositories_needs_force(svc: ImageService) -> None:
    a = make_image(svc, "a", ["one", "two"])
    with pytest.raises(Conflict) as exc:
        svc.remove(a.id.hex[:12])
    assert str(exc.value) == (
        f"conflict: unable to delete {a.id.hex[:12]} (must be forced)"
        " - image is referenced in multiple repositories"
    )
    out = svc.remove(a.id.hex[:12], force=True)
    assert {"Untagged": "one:latest"} in out and {"Untagged": "two:latest"} in out
    assert {"Deleted": str(a.id)} in out


def test_remove_by_id_with_one_repository(svc: ImageService) -> None:
    a = make_image(svc, "a", ["one:1", "one:2"])
    with pytest.raises(Conflict):  # two tags: not a single reference
        svc.remove(str(a.id))
    svc.untag("one:2")
    out = svc.remove(str(a.id))
    assert out[:2] == [{"Untagged": "one:1"}, {"Deleted": str(a.id)}]


def test_remove_image_used_by_a_container(svc: ImageService) -> None:
    a = make_image(svc, "a", ["app"])
    cid = "0123456789abcdef" * 4

    def used(image_id: str) -> str | bool:
        return cid if image_id == str(a.id) else False

    with pytest.raises(Conflict) as exc:
        svc.remove("app", in_use=used)
    assert str(exc.value) == (
        'conflict: unable to remove repository reference "app" (must force) - container '
        f"{cid[:12]} is using its referenced image {short_id(a.id)}"
    )
    svc.tag("app", "other")
    assert svc.remove("app", in_use=used) == [{"Untagged": "app:latest"}]
    svc.untag("other")
    with pytest.raises(Conflict, match="image is being used by stopped container 0123456789ab"):
        svc.remove(str(a.id), in_use=used)
    running = lambda i: UsedBy(cid, running=True)  # noqa: E731
    with pytest.raises(Conflict, match=r"\(cannot be forced\) - image is being used by running"):
        svc.remove(str(a.id), force=True, in_use=running)
    out = svc.remove(str(a.id), force=True, in_use=used)
    assert out[0] == {"Deleted": str(a.id)}


def test_remove_by_name_forced_while_used_deletes(svc: ImageService) -> None:
    a = make_image(svc, "a", ["app"])
    out = svc.remove("app", force=True, in_use=lambda _: "c" * 64)
    assert out[:2] == [{"Untagged": "app:latest"}, {"Deleted": str(a.id)}]


def test_remove_refuses_an_image_with_children(svc: ImageService) -> None:
    base = make_image(svc, "base", ["base"], n_layers=1)
    child = make_image(svc, "child", ["child"], n_layers=1, parent=base)
    assert svc.remove("base") == [{"Untagged": "base:latest"}]  # kept: it has a child
    with pytest.raises(Conflict, match=r"cannot be forced.*dependent child images"):
        svc.remove(str(base.id), force=True)
    out = svc.remove("child")
    assert {"Deleted": str(child.id)} in out and {"Deleted": str(base.id)} in out


def test_remove_deletes_unshared_blobs_and_snapshots(svc: ImageService) -> None:
    a = make_image(svc, "a", ["a"])
    b = make_image(svc, "b", ["b"], n_layers=1, parent=a)
    svc.unpack("a")
    svc.unpack("b")
    shared = {str(x.digest) for x in a.layers}
    out = svc.remove("b")
    deleted = [d["Deleted"] for d in out if "Deleted" in d]
    assert str(b.id) in deleted and str(b.layers[-1].chain_id) in deleted
    assert {str(d) for d in svc.content.list()} >= shared
    assert all(svc.snapshots.has_layer(x.chain_id) for x in a.layers)
    assert not svc.snapshots.has_layer(b.layers[-1].chain_id)
    assert not svc.content.exists(b.id)


# -- list, prune, history, inspect --------------------------------------------------------


def test_list_filters(svc: ImageService) -> None:
    old = make_image(svc, "old", ["team/app:v1"], created="2020-01-01T00:00:00Z")
    mid = make_image(svc, "mid", ["busybox:1"], created="2022-01-01T00:00:00Z", labels={"k": "v"})
    new = make_image(svc, "new", [], created="2024-01-01T00:00:00Z", labels={"k": "w"})
    ids = lambda f: [x["Id"] for x in svc.list_images(f)]  # noqa: E731
    assert ids({}) == [str(new.id), str(mid.id), str(old.id)]
    assert ids({"dangling": ["true"]}) == [str(new.id)]
    assert ids({"dangling": ["false"]}) == [str(mid.id), str(old.id)]
    assert ids({"reference": ["busybox"]}) == [str(mid.id)]
    assert ids({"reference": ["team/*"]}) == [str(old.id)]
    assert ids({"reference": ["*"]}) == [str(mid.id)]  # '*' does not cross '/'
    assert ids({"reference": ["*/*:v?"]}) == [str(old.id)]
    assert ids({"label": ["k"]}) == [str(new.id), str(mid.id)]
    assert ids({"label": ["k=v"]}) == [str(mid.id)]
    assert ids({"before": ["busybox:1"]}) == [str(old.id)]
    assert ids({"since": ["busybox:1"]}) == [str(new.id)]
    with pytest.raises(InvalidArgument, match="invalid filter 'bogus'"):
        svc.list_images({"bogus": ["1"]})


def test_prune_dangling_then_all(svc: ImageService) -> None:
    a = make_image(svc, "a", ["app"])
    b = make_image(svc, "b", [])
    c = make_image(svc, "c", [])
    res = svc.prune(in_use=lambda i: i == str(c.id))
    assert next(d for d in res["ImagesDeleted"] if "Deleted" in d) == {"Deleted": str(b.id)}
    assert res["SpaceReclaimed"] > 0
    assert svc.resolve(str(c.id)) and svc.resolve("app")
    res = svc.prune(all=True, in_use=lambda i: i == str(c.id))
    assert {"Untagged": "app:latest"} in res["ImagesDeleted"]
    assert {"Deleted": str(a.id)} in res["ImagesDeleted"]
    assert [r.id for r in md.list_images(svc.db)] == [c.id]
    assert svc.prune(in_use=lambda _: True) == {"ImagesDeleted": None, "SpaceReclaimed": 0}


def test_history_shape(svc: ImageService) -> None:
    base = make_image(svc, "base", ["base"], n_layers=1)
    child = make_image(svc, "child", ["child:1"], n_layers=1, parent=base)
    hist = svc.history("child:1")
    assert [h["Id"] for h in hist] == [str(child.id), str(base.id)]
    assert hist[0]["Tags"] == ["child:1"] and hist[1]["Tags"] == ["base:latest"]
    assert set(hist[0]) == {"Id", "Created", "CreatedBy", "Tags", "Size", "Comment"}
    assert hist[0]["CreatedBy"] == "layer 1" and hist[0]["Size"] == child.layers[1].diff_size
    assert hist[0]["Created"] == 1704067200
    lone = make_image(svc, "lone", ["lone"], n_layers=3)
    assert [h["Id"] for h in svc.history("lone")] == [str(lone.id)] + ["<missing>"] * 2


def test_inspect_shape(svc: ImageService) -> None:
    a = make_image(svc, "a", ["app:1"], labels={"x": "y"})
    svc.unpack("app:1")
    info = svc.inspect("app:1")
    keys = (
        "Id",
        "Parent",
        "Comment",
        "Created",
        "Container",
        "ContainerConfig",
        "DockerVersion",
        "Author",
        "Config",
        "Architecture",
        "Os",
        "Size",
        "VirtualSize",
        "GraphDriver",
        "RootFS",
        "Metadata",
        "RepoTags",
        "RepoDigests",
    )
    for key in keys:
        assert key in info, key
    assert info["Id"] == str(a.id) and info["RepoTags"] == ["app:1"] and info["RepoDigests"] == []
    assert info["Config"]["Cmd"] == ["sh"] and info["Config"]["Labels"] == {"x": "y"}
    assert info["Config"]["Env"] is None and info["Config"]["Hostname"] == ""
    assert info["RootFS"] == {"Type": "layers", "Layers": [str(x.diff_id) for x in a.layers]}
    assert info["GraphDriver"]["Name"] == "vfs"
    assert Path(info["GraphDriver"]["Data"]["UpperDir"]).is_dir()
    assert info["Size"] == sum(x.diff_size for x in a.layers)
    assert info["Metadata"]["LastTagTime"].endswith("Z")


def test_disk_usage(svc: ImageService) -> None:
    a = make_image(svc, "a", ["a"])
    make_image(svc, "b", ["b"], n_layers=1, parent=a)
    svc.unpack("b")
    du = svc.disk_usage()
    assert du["LayersSize"] > 0 and len(du["Images"]) == 2
    assert {i["SharedSize"] for i in du["Images"]} == {sum(x.diff_size for x in a.layers)}


# -- layers, unpack, gc ------------------------------------------------------------------


def test_add_layer_kinds(svc: ImageService) -> None:
    import gzip

    import zstandard

    tar = layer_tar({"f": b"data" * 100})
    plain = svc.add_layer(io.BytesIO(tar))
    assert plain.digest == plain.diff_id and plain.media_type.endswith(".tar")
    gz = svc.add_layer(io.BytesIO(gzip.compress(tar)))
    zs = svc.add_layer(io.BytesIO(zstandard.ZstdCompressor().compress(tar)))
    packed = svc.add_layer(io.BytesIO(tar), compress=True)
    assert gz.diff_id == zs.diff_id == packed.diff_id == plain.diff_id
    assert gz.media_type.endswith("+gzip") and zs.media_type.endswith("+zstd")
    assert packed.media_type.endswith("+gzip") and packed.size < len(tar)
    assert plain.diff_size == len(tar)
    with pytest.raises(InvalidArgument):
        svc.add_layer(io.BytesIO(gzip.compress(tar)[:-10]))
    with pytest.raises(InvalidArgument, match="diff ID"):
        svc.add_layer(io.BytesIO(tar), expected_diff_id=gz.digest)
    assert svc.content.ingests() == []


def test_create_image_checks_diff_ids(svc: ImageService) -> None:
    a = make_image(svc, "a")
    blob = svc.add_layer(io.BytesIO(layer_tar({"z": b"z"})))
    with pytest.raises(InvalidArgument, match="diff_ids"):
        svc.create_image(a.config, [blob])


def test_unpack_and_prepare_rootfs(svc: ImageService) -> None:
    a = make_image(svc, "a", ["a"])
    top = svc.unpack("a")
    assert top == a.layers[-1].chain_id
    mounts = svc.prepare_rootfs("ctr1", "a")
    assert mounts
    svc.snapshots.remove("ctr1")


def test_gc_removes_only_unreferenced(svc: ImageService) -> None:
    a = make_image(svc, "a", ["a"])
    svc.unpack("a")
    stray = svc.content.ingest(io.BytesIO(b"stray blob"))  # type: ignore[arg-type]
    leased = svc.add_layer(io.BytesIO(layer_tar({"leased": b"1"})))
    tar = layer_tar({"loose": b"snapshot"})
    loose = svc.add_layer(io.BytesIO(tar))
    svc.snapshots.unpack_layer(loose.diff_id, None, io.BytesIO(tar))  # type: ignore[arg-type]
    with svc.content.writer("abandoned") as w:
        w.write(b"partial")
    res = svc.gc(stale_ingest_seconds=0)
    assert res["Blobs"] == [str(stray)]
    assert svc.content.exists(leased.digest) and svc.content.ingests() == []
    assert res["Snapshots"] == [str(loose.diff_id)]  # no image, no lease holds it
    md.expire_leases(svc.db, now=time.time() + 10 * 3600)
    res = svc.gc()
    assert set(res["Blobs"]) == {str(leased.digest), str(loose.digest)}
    assert res["Snapshots"] == []
    want = {a.id, a.manifest_digest, *(x.digest for x in a.layers)}
    assert set(svc.content.list()) == want
    assert all(svc.snapshots.has_layer(x.chain_id) for x in a.layers)


@pytest.mark.parametrize(
    "package",
    [
        "hull.images",
        "hull.images.service",
        "hull.images.archives",
        "hull.images.importer",
        "hull.images.bootstrap",
        "hull.images.inspect",
    ],
)
def test_public_api_is_complete(package: str) -> None:
    import importlib

    mod = importlib.import_module(package)
    for name in mod.__all__:  # the package imports each name on first use
        getattr(mod, name)
    public = {n for n in vars(mod) if not n.startswith("_")}
    declared = set(mod.__all__)
    assert declared <= public
    for name in public - declared:
        obj = getattr(mod, name)
        if type(obj).__name__ == "module":
            continue
        assert not getattr(obj, "__module__", "").startswith(package + "."), name
        if package != "hull.images":
            assert getattr(obj, "__module__", "") != package, name


def test_add_layer_checks_the_blob_digest_and_keeps_the_store_clean(svc: ImageService) -> None:
    import gzip

    from hull.oci.digest import Digest, digest_bytes

    blob = gzip.compress(layer_tar({"a.txt": b"hello"}))
    good = digest_bytes(blob)
    wrong = Digest("sha256", "0" * 64)
    before = set(svc.content.list())
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        svc.add_layer(io.BytesIO(blob), expected_digest=wrong)
    assert set(svc.content.list()) == before  # nothing half-written stays
    added = svc.add_layer(io.BytesIO(blob), expected_digest=good)
    assert added.digest == good and added.size == len(blob)
    assert good in set(svc.content.list())


def test_add_layer_commits_the_given_ingest_without_a_copy(svc: ImageService) -> None:
    # a pull's spool: its bytes are written (and hashed) already, and the file becomes the blob
    import gzip
    import os

    from hull.oci.digest import digest_bytes
    from hull.snapshots import compute_chain_id

    tar = layer_tar({"a.txt": b"hello" * 1000})
    blob = gzip.compress(tar)
    digest, diff_id = digest_bytes(blob), digest_bytes(tar)
    w = svc.content.writer("pull-x", digest, len(blob), hash_thread=False)
    w.write(blob)
    spool = next((svc.content.root / "ingest").glob("*/data"))
    inode = os.stat(spool).st_ino
    with open(spool, "rb") as f:
        added = svc.add_layer(f, expected_digest=digest, expected_diff_id=diff_id,
                              unpack_on=None, ingest=w)  # fmt: skip
    assert added.digest == digest and added.size == len(blob) and added.diff_id == diff_id
    assert os.stat(svc.content.path(digest)).st_ino == inode  # renamed, not copied
    assert svc.content.ingests() == []  # no second ingest was made
    assert svc.snapshots.has_layer(compute_chain_id(None, diff_id))


def test_add_layer_leaves_a_bad_ingest_to_its_owner(svc: ImageService) -> None:
    import gzip

    from hull.oci.digest import digest_bytes

    tar = layer_tar({"a.txt": b"hello"})
    blob = gzip.compress(tar)
    w = svc.content.writer("pull-y", digest_bytes(blob), len(blob))
    w.write(blob)
    spool = next((svc.content.root / "ingest").glob("*/data"))
    with open(spool, "rb") as f, pytest.raises(InvalidArgument, match="diff ID"):
        svc.add_layer(f, expected_diff_id=digest_bytes(b"other"), ingest=w)
    assert [s.ref for s in svc.content.ingests()] == ["pull-y"]  # the caller aborts or keeps it
    assert svc.content.list() == []
    w.close()
    with pytest.raises(InvalidArgument, match="gzipped"):
        svc.add_layer(io.BytesIO(tar), compress=True, ingest=w)
