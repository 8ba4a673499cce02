"""save / load: docker-archive and OCI layout round trips, hostile archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_service_helpers import layer_tar, make_image

from hull import metadata as md
from hull.errors import InvalidArgument
from hull.images import ImageService, load, save


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    s = ImageService(tmp_path / "src", snapshotter="vfs", durable=False)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def dst(tmp_path: Path) -> Iterator[ImageService]:
    s = ImageService(tmp_path / "dst", snapshotter="vfs", durable=False)
    try:
        yield s
    finally:
        s.close()


def _members(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return t.getnames()


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_round_trip(svc: ImageService, dst: ImageService, fmt: str) -> None:
    base = make_image(svc, "base", ["base:1"], n_layers=2)
    child = make_image(svc, "child", ["child", "child:2"], n_layers=1, parent=base)
    out = io.BytesIO()
    save(svc, ["base:1", "child"], out, format=fmt)  # type: ignore[arg-type]
    names = _members(out.getvalue())
    assert "manifest.json" in names
    if fmt == "oci":
        assert {"oci-layout", "index.json"} <= set(names)
    else:
        assert f"{base.layers[0].diff_id.hex}/layer.tar" in names and "repositories" in names
    out.seek(0)
    loaded = load(dst, out)
    assert sorted(loaded) == ["base:1", "child:2", "child:latest"]
    for name, want in (("base:1", base), ("child:2", child)):
        got = dst.resolve(name)
        assert got.id == want.id and got.config == want.config
        assert [x.diff_id for x in got.layers] == [x.diff_id for x in want.layers]
        assert all(dst.snapshots.has_layer(x.chain_id) for x in got.layers)
        if fmt == "oci":  # blobs kept as they were (compressed)
            assert [x.digest for x in got.layers] == [x.digest for x in want.layers]
    # loading again is idempotent
    out.seek(0)
    assert sorted(load(dst, out)) == sorted(loaded)
    assert len(md.list_images(dst.db)) == 2


def test_save_by_id_is_untagged(svc: ImageService, dst: ImageService) -> None:
    a = make_image(svc, "a", ["a"])
    out = io.BytesIO()
    save(svc, [a.id.hex[:12]], out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as t:
        member = t.extractfile("manifest.json")
        assert member is not None
        manifest = json.loads(member.read())
    assert manifest[0]["RepoTags"] is None
    out.seek(0)
    assert load(dst, out) == [str(a.id)]


def test_load_from_a_pipe_and_gzip(svc: ImageService, dst: ImageService) -> None:
    a = make_image(svc, "a", ["a"])
    buf = io.BytesIO()
    save(svc, ["a"], buf)
    r, w = os.pipe()

    def feed() -> None:
        with os.fdopen(w, "wb") as f:
            f.write(gzip.compress(buf.getvalue()))

    t = threading.Thread(target=feed)
    t.start()
    with os.fdopen(r, "rb") as f:
        assert load(dst, f) == ["a:latest"]
    t.join()
    assert dst.resolve("a").id == a.id


def _archive(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return buf


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _docker_archive(layer_path: str = "l1/layer.tar", extra: list | None = None) -> io.BytesIO:  # type: ignore[type-arg]
    layer = layer_tar({"hello": b"world"})
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    cid = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": f"{cid}.json", "RepoTags": ["x:1"], "Layers": [layer_path]}])
    entries = [_file("l1/layer.tar", layer), _file(f"{cid}.json", config)]
    entries += extra or []
    entries.append(_file("manifest.json", manifest.encode()))
    return _archive(entries)


def test_docker_20_10_symlinked_layers_are_followed_inside(dst: ImageService) -> None:
    arch = _docker_archive("l2/layer.tar", [_link("l2/layer.tar", "../l1/layer.tar")])
    assert load(dst, arch) == ["x:1"]


@pytest.mark.parametrize(
    ("layer_path", "extra", "needle"),
    [
        ("l1/layer.tar", [_file("../evil", b"x")], "'../evil'"),
        ("l1/layer.tar", [_file("/abs", b"x")], "'/abs'"),
        ("../../etc/passwd", [], "'../../etc/passwd'"),
        ("l2/layer.tar", [_link("l2/layer.tar", "/etc/passwd")], "'l2/layer.tar' links outside"),
        ("l2/layer.tar", [_link("l2/layer.tar", "../../x")], "'l2/layer.tar' links outside"),
        ("l2/layer.tar", [_link("l2/layer.tar", "../../x", tarfile.LNKTYPE)], "links outside"),
        ("l2/layer.tar", [_link("l2/layer.tar", "layer.tar")], "too many levels"),
        ("nothere.tar", [], "no member 'nothere.tar'"),
    ],
)
def test_hostile_docker_archives_are_refused(
    dst: ImageService,
    layer_path: str,
    extra: list,
    needle: str,  # type: ignore[type-arg]
) -> None:
    with pytest.raises(InvalidArgument) as exc:
        load(dst, _docker_archive(layer_path, extra))
    assert needle in str(exc.value)
    assert md.list_images(dst.db) == []


def test_device_members_and_huge_manifests_are_refused(dst: ImageService) -> None:
    dev = tarfile.TarInfo("dev")
    dev.type = tarfile.CHRTYPE
    with pytest.raises(InvalidArgument, match="'dev' is a device"):
        load(dst, _archive([(dev, None)]))
    huge = b"[" + b" " * (5 << 20) + b"]"
    with pytest.raises(InvalidArgument, match=r"'manifest\.json' is too big"):
        load(dst, _archive([_file("manifest.json", huge)]))
    with pytest.raises(InvalidArgument, match=r"neither manifest\.json"):
        load(dst, _archive([_file("other", b"")]))


def test_wrong_layer_content_is_refused_and_leaves_nothing(dst: ImageService) -> None:
    good = _docker_archive()
    with tarfile.open(fileobj=good) as t:
        entries = [(m, t.extractfile(m).read()) for m in t.getmembers()]  # type: ignore[union-attr]
    entries = [
        (m, layer_tar({"evil": b"1"}) if m.name == "l1/layer.tar" else d) for m, d in entries
    ]
    with pytest.raises(InvalidArgument, match="diff ID"):
        load(dst, _archive(entries))  # type: ignore[arg-type]
    assert md.list_images(dst.db) == []
    md.expire_leases(dst.db, now=1e12)
    dst.gc(stale_ingest_seconds=0)
    assert dst.content.list() == [] and dst.snapshots.list() == []


def test_oci_blob_digest_mismatch_is_refused(svc: ImageService, dst: ImageService) -> None:
    make_image(svc, "a", ["a"], n_layers=1)
    out = io.BytesIO()
    save(svc, ["a"], out, format="oci")
    out.seek(0)
    with tarfile.open(fileobj=out) as t:
        entries = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]  # type: ignore[union-attr]
    index = json.loads(next(d for m, d in entries if m.name == "index.json"))  # type: ignore[arg-type]
    mdigest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads(next(d for m, d in entries if m.name.endswith(mdigest)))  # type: ignore[arg-type]
    layer_hex = manifest["layers"][0]["digest"].split(":")[1]
    tampered = [
        (m, gzip.compress(layer_tar({"x": b"y"})) if m.name.endswith(layer_hex) else d)
        for m, d in entries
        if m.name != "manifest.json"  # force the OCI path
    ]
    with pytest.raises(InvalidArgument, match=r"mismatch|diff ID"):
        load(dst, _archive(tampered))
    assert md.list_images(dst.db) == []
