"""Manifest routes: every media type, validation, tags, catalog, deletes, referrers."""

from __future__ import annotations

import json

import pytest

from tests.unit.registry.regserver import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    RunningRegistry,
    sha,
)


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_manifest_round_trip(reg: RunningRegistry, media_type: str) -> None:
    digest, data = reg.image("lib/app", "v1", media_type)
    for ref in ("v1", digest):
        r = reg.request("GET", f"/v2/lib/app/manifests/{ref}", headers={"Accept": "*/*"})
        assert r.status == 200
        assert r.body == data  # exactly as sent
        assert r.headers["content-type"] == media_type
        assert r.headers["docker-content-digest"] == digest
        h = reg.request("HEAD", f"/v2/lib/app/manifests/{ref}")
        assert h.status == 200 and h.body == b""
        assert h.headers["content-length"] == str(len(data))
    # an Accept that does not list the stored type still gets it
    r = reg.request("GET", "/v2/lib/app/manifests/v1", headers={"Accept": DOCKER_LIST})
    assert r.status == 200 and r.headers["content-type"] == media_type


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_LIST])
def test_index_needs_its_children(reg: RunningRegistry, media_type: str) -> None:
    child_type = OCI_MANIFEST if media_type == OCI_INDEX else DOCKER_MANIFEST
    child, data = reg.image("multi", None, child_type)
    index = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": child_type,
                "digest": child,
                "size": len(data),
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }
    r = reg.push_manifest("multi", "latest", index, media_type)
    assert r.status == 201, r.body
    got = reg.request("GET", "/v2/multi/manifests/latest")
    assert got.headers["content-type"] == media_type
    assert json.loads(got.body) == index
    index["manifests"][0]["digest"] = sha(b"missing")  # type: ignore[index]
    r = reg.push_manifest("multi", "broken", index, media_type)
    assert r.status == 404 and r.codes == ["MANIFEST_BLOB_UNKNOWN"]


def test_missing_blob_refused(reg: RunningRegistry) -> None:
    cfg = reg.push_blob("x", b"{}")
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cfg,
            "size": 2,
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(b"no"), "size": 2}
        ],
    }
    r = reg.push_manifest("x", "v1", doc)
    assert r.status == 404 and r.codes == ["MANIFEST_BLOB_UNKNOWN"]
    assert r.json()["errors"][0]["detail"] == sha(b"no")
    # a blob of another repository does not count
    other = reg.push_blob("y", b"no")
    assert other == sha(b"no")
    assert reg.push_manifest("x", "v1", doc).status == 404
    assert reg.request("GET", "/v2/x/manifests/v1").codes == ["MANIFEST_UNKNOWN"]


def test_schema1_refused(reg: RunningRegistry) -> None:
    doc = {"schemaVersion": 1, "name": "x", "tag": "v1", "fsLayers": [], "history": []}
    for ct in (
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/json",
    ):
        r = reg.push_manifest("x", "v1", doc, ct)
        assert r.status == 400 and r.codes == ["MANIFEST_INVALID"]
        assert "schema 1" in r.json()["errors"][0]["message"]


def test_invalid_and_huge_manifests(reg: RunningRegistry) -> None:
    r = reg.push_manifest("x", "v1", b"not json")
    assert r.codes == ["MANIFEST_INVALID"]
    r = reg.push_manifest("x", "v1", {"schemaVersion": 2, "config": 3})
    assert r.codes == ["MANIFEST_INVALID"]
    big = b'{"schemaVersion": 2, "x": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    r = reg.push_manifest("x", "v1", big)
    assert r.status == 413 and r.codes == ["MANIFEST_INVALID"]
    r = reg.push_manifest("x", "v1", b"{}", "application/vnd.example.unknown+json")
    assert r.codes == ["MANIFEST_INVALID"]


def test_put_by_digest_must_match(reg: RunningRegistry) -> None:
    digest, data = reg.image("x")
    r = reg.push_manifest("x", digest, data)
    assert r.status == 201
    r = reg.push_manifest("x", sha(b"other"), data)
    assert r.status == 400 and r.codes == ["DIGEST_INVALID"]


def test_tags_pagination(reg: RunningRegistry) -> None:
    _digest, data = reg.image("x")
    tags = [f"t{i:02d}" for i in range(7)] + ["A", "latest"]
    for t in tags:
        assert reg.push_manifest("x", t, data).status == 201
    r = reg.request("GET", "/v2/x/tags/list")
    assert r.json() == {"name": "x", "tags": sorted(tags)}
    assert "link" not in r.headers
    seen: list[str] = []
    url = "/v2/x/tags/list?n=4"
    while url:
        r = reg.request("GET", url)
        page = r.json()["tags"]
        assert len(page) <= 4
        seen += page
        link = r.headers.get("link")
        url = link[1 : link.index(">")] if link else ""
        if link:
            assert link.endswith('; rel="next"')
    assert seen == sorted(tags)
    r = reg.request("GET", "/v2/x/tags/list?n=2&last=t03")
    assert r.json()["tags"] == ["t04", "t05"]
    assert reg.request("GET", "/v2/x/tags/list?n=-1").codes == ["PAGINATION_NUMBER_INVALID"]
    assert reg.request("GET", "/v2/nope/tags/list").codes == ["NAME_UNKNOWN"]


def test_catalog(reg: RunningRegistry) -> None:
    _, _data = reg.image("b/two")
    reg.image("a/one", "v1")
    reg.image("c", "v1")
    reg.push_blob("only/blobs", b"x")  # no manifest: not listed
    assert reg.request("GET", "/v2/_catalog").json() == {"repositories": ["a/one", "b/two", "c"]}
    r = reg.request("GET", "/v2/_catalog?n=2")
    assert r.json()["repositories"] == ["a/one", "b/two"]
    assert r.headers["link"] == '</v2/_catalog?n=2&last=b%2Ftwo>; rel="next"'
    r = reg.request("GET", "/v2/_catalog?n=2&last=b/two")
    assert r.json()["repositories"] == ["c"] and "link" not in r.headers


def test_deletes(reg: RunningRegistry) -> None:
    digest, data = reg.image("x", "v1")
    reg.push_manifest("x", "v2", data)
    # deleting a tag leaves the manifest and the other tag
    assert reg.request("DELETE", "/v2/x/manifests/v1").status == 202
    assert reg.request("GET", "/v2/x/tags/list").json()["tags"] == ["v2"]
    assert reg.request("GET", f"/v2/x/manifests/{digest}").status == 200
    assert reg.request("DELETE", "/v2/x/manifests/v1").codes == ["MANIFEST_UNKNOWN"]
    # deleting by digest removes it and every tag
    assert reg.request("DELETE", f"/v2/x/manifests/{digest}").status == 202
    assert reg.request("GET", f"/v2/x/manifests/{digest}").status == 404
    assert reg.request("GET", "/v2/x/tags/list").json()["tags"] == []
    assert reg.request("DELETE", f"/v2/x/manifests/{digest}").status == 404


def test_referrers(reg: RunningRegistry) -> None:
    subject, data = reg.image("x", "v1")
    subj = {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(data)}
    sig, _ = reg.image(
        "x",
        None,
        layer=b"sig",
        artifactType="application/vnd.example.sig",
        subject=subj,
        annotations={"org.example": "yes"},
    )
    sbom_doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.example.sbom",
            "digest": reg.push_blob("x", b"{}"),
            "size": 2,
        },
        "layers": [],
        "subject": subj,
    }
    r = reg.push_manifest("x", sha(json.dumps(sbom_doc).encode()), sbom_doc)
    assert r.status == 201 and r.headers["oci-subject"] == subject
    sbom = r.headers["docker-content-digest"]
    r = reg.request("GET", f"/v2/x/referrers/{subject}")
    assert r.status == 200
    assert r.headers["content-type"] == OCI_INDEX
    index = r.json()
    assert index["mediaType"] == OCI_INDEX and index["schemaVersion"] == 2
    by_digest = {m["digest"]: m for m in index["manifests"]}
    assert set(by_digest) == {sig, sbom}
    assert by_digest[sig]["artifactType"] == "application/vnd.example.sig"
    assert by_digest[sig]["annotations"] == {"org.example": "yes"}
    assert by_digest[sbom]["artifactType"] == "application/vnd.example.sbom"
    r = reg.request("GET", f"/v2/x/referrers/{subject}?artifactType=application/vnd.example.sbom")
    assert r.headers["oci-filters-applied"] == "artifactType"
    assert [m["digest"] for m in r.json()["manifests"]] == [sbom]
    # none: an empty index, never 404
    r = reg.request("GET", f"/v2/x/referrers/{sha(b'nothing')}")
    assert r.status == 200 and r.json()["manifests"] == []
    assert reg.request("GET", "/v2/x/referrers/sha256:bad").status == 400
    # deleting a referrer drops it from the list
    assert reg.request("DELETE", f"/v2/x/manifests/{sig}").status == 202
    r = reg.request("GET", f"/v2/x/referrers/{subject}")
    assert [m["digest"] for m in r.json()["manifests"]] == [sbom]
