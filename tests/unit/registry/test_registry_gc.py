"""Online garbage collection: mark, sweep, spare what is pushed meanwhile, purge uploads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

import hull.registry.gc as gcmod
from hull.oci.digest import Digest
from hull.registry import collect_garbage
from hull.registry.storage import RegistryStorage
from tests.unit.registry.regserver import OCI_MANIFEST, RunningRegistry, sha


def _age(reg: RunningRegistry, digest: str, seconds: float = 7200) -> None:
    path = reg.app.storage.content.path(Digest.parse(digest))
    t = time.time() - seconds
    os.utime(path, (t, t))


def _blobs(reg: RunningRegistry) -> set[str]:
    return {str(d) for d in reg.app.storage.content.list()}


def test_gc_removes_only_unreferenced(reg: RunningRegistry) -> None:
    _keep, keep_data = reg.image("a", "v1", layer=b"kept layer")
    gone, _ = reg.image("b", "v1", layer=b"gone layer")
    orphan = reg.push_blob("a", b"orphan")
    assert reg.request("DELETE", f"/v2/b/manifests/{gone}").status == 202
    before = _blobs(reg)
    for d in before:
        _age(reg, d)
    result = collect_garbage(reg.app.storage, grace=60)
    removed = {str(d) for d in result.removed}
    assert removed == {gone, orphan, sha(b"gone layer")}
    assert _blobs(reg) == before - removed
    assert reg.request("GET", "/v2/a/manifests/v1").body == keep_data
    assert reg.request("GET", f"/v2/a/blobs/{sha(b'kept layer')}").status == 200
    assert reg.request("HEAD", f"/v2/a/blobs/{orphan}").status == 404
    assert not reg.app.storage.has_blob("a", Digest.parse(orphan))
    # the config blob is shared by both images and still referenced by a's manifest
    assert result.marked >= 3


def test_gc_spares_recent_blobs(reg: RunningRegistry) -> None:
    orphan = reg.push_blob("a", b"fresh orphan")
    result = collect_garbage(reg.app.storage)  # default grace: an hour
    assert result.removed == [] and result.kept_recent == 1
    assert orphan in _blobs(reg)


def test_gc_online_with_concurrent_push(
    reg: RunningRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = reg.push_blob("app", b"old layer, pushed long ago")
    junk = reg.push_blob("app", b"junk")
    _age(reg, old)
    _age(reg, junk)
    marking = threading.Event()
    resume = threading.Event()
    real_mark = gcmod._mark

    def slow_mark(storage: RegistryStorage) -> set[Digest]:
        live = real_mark(storage)
        marking.set()
        assert resume.wait(10)
        return live

    monkeypatch.setattr(gcmod, "_mark", slow_mark)
    out: list[gcmod.GCResult] = []
    t = threading.Thread(target=lambda: out.append(collect_garbage(reg.app.storage, grace=0)))
    t.start()
    assert marking.wait(10)
    # a client pushes while gc is between mark and sweep: a new config, and
    # the old layer it finds present by HEAD
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    cfg = reg.push_blob("app", config)
    assert reg.request("HEAD", f"/v2/app/blobs/{old}").status == 200
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cfg,
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": old,
                "size": len(b"old layer, pushed long ago"),
            }
        ],
    }
    assert reg.push_manifest("app", "v1", doc).status == 201
    resume.set()
    t.join(10)
    removed = {str(d) for d in out[0].removed}
    assert removed == {junk}
    for d in (cfg, old):
        assert reg.request("GET", f"/v2/app/blobs/{d}").status == 200
    assert reg.request("GET", "/v2/app/manifests/v1").status == 200


def test_gc_purges_old_uploads(reg: RunningRegistry) -> None:
    old = reg.request("POST", "/v2/x/blobs/uploads/").headers["location"]
    reg.request("PATCH", old, b"abandoned")
    new = reg.request("POST", "/v2/x/blobs/uploads/").headers["location"]
    reg.request("PATCH", new, b"in progress")
    reg.app.uploads.close_all()
    old_uuid = old.rsplit("/", 1)[1]
    state = reg.app.storage.repo_path("x") / "_uploads" / old_uuid / "state"
    doc = json.loads(state.read_text())
    doc["startedAt"] = time.time() - 3 * 86400
    state.write_text(json.dumps(doc))
    ingest = reg.app.storage.content.status(f"registry-upload-{old_uuid}")
    assert ingest.offset == len(b"abandoned")
    for st in reg.app.storage.content.ingests():
        if st.ref.endswith(old_uuid):
            data = reg.app.storage.content.root / "ingest"
            for p in data.rglob("data"):
                if (p.parent / "ref").read_text() == st.ref:
                    t = time.time() - 3 * 86400
                    os.utime(p, (t, t))
    result = collect_garbage(reg.app.storage, upload_max_age=86400)
    assert result.uploads_purged == [old_uuid]
    assert reg.request("GET", old).status == 404
    assert reg.request("GET", new).status == 204
    assert [s.ref for s in reg.app.storage.content.ingests()] == [
        f"registry-upload-{new.rsplit('/', 1)[1]}"
    ]


def test_gc_command_line(reg: RunningRegistry) -> None:
    orphan = reg.push_blob("a", b"cli orphan")
    _age(reg, orphan)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hull.registry",
            "gc",
            "--root",
            str(reg.config.root),
            "--grace",
            "0",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("1 blobs removed")
    assert orphan not in _blobs(reg)
