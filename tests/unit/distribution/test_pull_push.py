"""Push with our client to our registry, pull it back: names, digests, progress, skips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hull.distribution import RegistrySettings
from hull.distribution.pull import pull
from hull.distribution.push import push
from hull.errors import NotFound
from hull.images import ImageService
from hull.oci.digest import Digest
from tests.unit.distribution.helpers import events_sink, make_image
from tests.unit.registry.regserver import RunningRegistry

LAYERS = [{"a.txt": b"a" * 3000}, {"b.txt": b"b" * 5000, "etc/x": b"x"}, {"c": b"c"}]


def test_push_then_pull(reg: RunningRegistry, src: ImageService, dst: ImageService) -> None:
    name = f"{reg.addr}/team/app:v1"
    rec = make_image(src, name, LAYERS)
    events, sink = events_sink()
    res = push(src, name, progress=sink)
    statuses = [e.get("status") for e in events]
    assert statuses[0] == f"The push refers to repository [{reg.addr}/team/app]"
    assert statuses.count("Pushed") == 3
    assert statuses[-2] == f"v1: digest: {res.digest} size: {res.size}"
    assert events[-1]["aux"] == {"Tag": "v1", "Digest": str(res.digest), "Size": res.size}
    r = reg.request("GET", "/v2/team/app/tags/list")
    assert r.json()["tags"] == ["v1"]

    events, sink = events_sink()
    got = pull(dst, name, progress=sink)
    assert got.image.id == rec.id and got.updated and got.manifest_digest == res.digest
    statuses = [e.get("status") for e in events]
    assert statuses[0] == "Pulling from team/app" and events[0]["id"] == "v1"
    assert statuses.count("Pull complete") == 3
    assert statuses[-2] == f"Digest: {res.digest}"
    assert statuses[-1] == f"Status: Downloaded newer image for {name}"
    downloading = [e for e in events if e.get("status") == "Downloading"]
    assert downloading and set(downloading[0]) == {"status", "progressDetail", "progress", "id"}
    info = dst.inspect(name)
    assert info["RepoDigests"] == [f"{reg.addr}/team/app@{res.digest}"]
    # unpacked: every layer is a snapshot
    assert all(dst.snapshots.has_layer(x.chain_id) for x in dst.resolve(name).layers)
    # no ingest left behind
    assert dst.content.ingests() == []

    # again: nothing to download
    events, sink = events_sink()
    again = pull(dst, name, progress=sink)
    assert not again.updated
    statuses = [e.get("status") for e in events]
    assert statuses.count("Already exists") == 3 and "Downloading" not in statuses
    assert statuses[-1] == f"Status: Image is up to date for {name}"


def test_pull_by_digest(reg: RunningRegistry, src: ImageService, dst: ImageService) -> None:
    name = f"{reg.addr}/team/app:v1"
    rec = make_image(src, name, LAYERS[:1])
    res = push(src, name)
    events, sink = events_sink()
    by_digest = f"{reg.addr}/team/app@{res.digest}"
    got = pull(dst, by_digest, progress=sink)
    assert got.image.id == rec.id
    assert events[0]["id"] == str(res.digest)
    assert events[-1]["status"] == f"Status: Downloaded newer image for {by_digest}"
    assert dst.resolve(by_digest).id == rec.id
    with pytest.raises(NotFound):
        dst.resolve(name)  # a digest pull adds no tag
    wrong = Digest("sha256", "0" * 64)
    with pytest.raises(NotFound, match="not found"):
        pull(dst, f"{reg.addr}/team/app@{wrong}")


def test_pull_unknown(reg: RunningRegistry, dst: ImageService) -> None:
    # as Docker against distribution: the registry says MANIFEST_UNKNOWN for a new name
    with pytest.raises(NotFound, match=r"(pull access denied for|manifest for) .*/nope/x"):
        pull(dst, f"{reg.addr}/nope/x")


def test_index_platform(reg: RunningRegistry, src: ImageService, dst: ImageService) -> None:
    amd = make_image(src, f"{reg.addr}/multi/x:amd", [{"arch": b"amd64"}], arch="amd64")
    arm = make_image(src, f"{reg.addr}/multi/x:arm", [{"arch": b"arm64"}], arch="arm64")
    a = push(src, f"{reg.addr}/multi/x:amd")
    b = push(src, f"{reg.addr}/multi/x:arm")
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": str(d.digest),
             "size": d.size, "platform": {"os": "linux", "architecture": arch}}
            for d, arch in ((a, "amd64"), (b, "arm64"))
        ],
    }  # fmt: skip
    r = reg.push_manifest("multi/x", "latest", index, "application/vnd.oci.image.index.v1+json")
    assert r.status == 201
    from hull.oci.image_spec import Platform

    got = pull(dst, f"{reg.addr}/multi/x", platform=Platform.parse("linux/arm64"))
    assert got.image.id == arm.id
    got = pull(dst, f"{reg.addr}/multi/x", platform=Platform.parse("linux/amd64"))
    assert got.image.id == amd.id
    with pytest.raises(NotFound, match=r"no matching manifest for linux/s390x"):
        pull(dst, f"{reg.addr}/multi/x", platform=Platform.parse("linux/s390x"))


def test_schema1_refused(reg: RunningRegistry, dst: ImageService) -> None:
    doc = {"schemaVersion": 1, "name": "old/x", "tag": "latest", "fsLayers": [], "history": []}
    reg.push_manifest("old/x", "latest", json.dumps(doc).encode(),
                      "application/vnd.docker.distribution.manifest.v1+json")  # fmt: skip
    with pytest.raises(Exception, match=r"schema 1|not found|pull access denied"):
        pull(dst, f"{reg.addr}/old/x")


def test_mirror_and_default_registry(
    reg: RunningRegistry, src: ImageService, dst: ImageService, tmp_path: Path
) -> None:
    rec = make_image(src, f"{reg.addr}/library/busybox:latest", LAYERS[:1])
    push(src, f"{reg.addr}/library/busybox:latest")
    settings = RegistrySettings(registry_mirrors=("127.0.0.1:1",), default_registry=reg.addr)
    got = pull(dst, "busybox", settings=settings, backoff=0.01)
    assert got.image.id == rec.id
    assert dst.resolve("busybox:latest").id == rec.id
    assert dst.inspect("busybox")["RepoTags"] == ["busybox:latest"]
    settings = RegistrySettings.from_env(tmp_path, {"HULL_DEFAULT_REGISTRY": reg.addr})
    assert settings.endpoints("docker.io")[0].host == reg.addr
