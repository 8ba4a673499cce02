"""Bad bytes, cut connections, 5xx answers, cross-repository mounts, auth."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from hull.distribution import AuthConfig, ingest_ref
from hull.distribution.pull import pull
from hull.distribution.push import push
from hull.errors import HullError, InvalidArgument, NotFound, Unauthorized, Unavailable
from hull.images import ImageService
from tests.unit.distribution.helpers import Proxy, events_sink, make_image
from tests.unit.registry.regserver import RunningRegistry

BIG = {"big.bin": os.urandom(400_000)}  # incompressible: the gzip blob is ~400 kB


@pytest.fixture
def proxy(reg: RunningRegistry) -> Iterator[Proxy]:
    p = Proxy((reg.host, reg.port))
    try:
        yield p
    finally:
        p.close()


def _layer_digest(svc: ImageService, name: str, i: int = 0) -> str:
    d = svc.resolve(name).layers[i].digest
    assert d is not None
    return str(d)


def test_corrupt_blob(proxy: Proxy, src: ImageService, dst: ImageService) -> None:
    name = f"{proxy.addr}/team/app:v1"
    make_image(src, name, [BIG])
    push(src, name)
    digest = _layer_digest(src, name)
    proxy.rules.corrupt_path = f"/blobs/{digest}"
    with pytest.raises(HullError, match=digest):
        pull(dst, name, backoff=0.01)
    with pytest.raises(NotFound):
        dst.resolve(name)
    assert not any(str(d) == digest for d in dst.content.list())
    assert dst.content.ingests() == []  # bad bytes are not kept for a resume


@pytest.mark.parametrize("driver", ["overlay", "vfs"])
def test_a_bad_layer_stops_the_layers_above_it(
    proxy: Proxy, src: ImageService, tmp_path: Path, driver: str
) -> None:
    # overlay unpacks layers side by side: the one above a bad layer waits for it, then
    # gives up without claiming the error, and no layer of the image is published
    dst = ImageService(tmp_path / "dst-layers", snapshotter=driver, durable=False)
    assert dst.snapshots.independent_layers == (driver == "overlay")
    try:
        _bad_layer_then_good_pull(proxy, src, dst)
    finally:
        dst.close()


def _bad_layer_then_good_pull(proxy: Proxy, src: ImageService, dst: ImageService) -> None:
    name = f"{proxy.addr}/team/app:v1"
    make_image(src, name, [BIG, {"two": os.urandom(300_000)}, {"three": b"3"}])
    push(src, name)
    bad = _layer_digest(src, name)
    proxy.rules.corrupt_path = f"/blobs/{bad}"
    with pytest.raises(HullError, match=bad) as err:
        pull(dst, name, backoff=0.01)
    assert "below" not in str(err.value) and "stopped" not in str(err.value)
    with pytest.raises(NotFound):
        dst.resolve(name)
    chains = [x.chain_id for x in src.resolve(name).layers]
    assert not any(dst.snapshots.has_layer(c) for c in chains)
    assert ingest_ref(src.resolve(name).layers[0].digest) not in {  # type: ignore[arg-type]
        s.ref for s in dst.content.ingests()
    }
    proxy.rules.corrupt_path = None
    got = pull(dst, name)
    assert got.image.id == src.resolve(name).id
    assert all(dst.snapshots.has_layer(c) for c in chains)
    assert dst.content.ingests() == []


def test_resume_after_cut(proxy: Proxy, src: ImageService, dst: ImageService) -> None:
    name = f"{proxy.addr}/team/app:v1"
    make_image(src, name, [BIG, {"small": b"s"}])
    push(src, name)
    digest = _layer_digest(src, name)
    size = src.resolve(name).layers[0].size
    proxy.rules.cut_after = 150_000
    proxy.rules.cut_path = f"/blobs/{digest}"
    with pytest.raises(Unavailable, match="pull again to resume"):
        pull(dst, name, tries=1)
    with pytest.raises(NotFound):
        dst.resolve(name)
    (status,) = [
        s for s in dst.content.ingests() if s.ref == ingest_ref(src.resolve(name).layers[0].digest)
    ]  # type: ignore[arg-type]
    assert status.offset == 150_000
    proxy.rules.log.clear()
    proxy.rules.bytes_out = 0
    got = pull(dst, name)
    assert got.image.id == src.resolve(name).id
    gets = [h for m, t, h in proxy.rules.log if m == "GET" and digest in t]
    assert gets and gets[0].get("Range") == "bytes=150000-"
    assert proxy.rules.bytes_out < size
    assert dst.content.ingests() == []
    assert all(dst.snapshots.has_layer(x.chain_id) for x in dst.resolve(name).layers)


def test_client_gone_keeps_the_bytes_for_a_resume(
    proxy: Proxy, src: ImageService, dst: ImageService
) -> None:
    # the API's progress sink raises once its client went away (Ctrl-C on ``hull pull``)
    class Gone(Exception):
        pass

    def sink(event: dict[str, Any]) -> None:
        if event.get("status") == "Downloading":
            raise Gone("the client closed the connection")

    name = f"{proxy.addr}/team/app:v1"
    make_image(src, name, [{"big.bin": os.urandom(2_500_000)}])
    push(src, name)
    digest = _layer_digest(src, name)
    size = src.resolve(name).layers[0].size
    proxy.rules.delay = 0.0005  # 4 kB at a time: the download takes a while
    with pytest.raises(Gone):
        pull(dst, name, progress=sink)
    (status,) = [s for s in dst.content.ingests() if s.ref == f"pull-{digest}"]
    assert status.offset > 0  # kept, not thrown away as bad bytes
    proxy.rules.delay = 0.0
    proxy.rules.bytes_out = 0
    got = pull(dst, name)
    assert got.image.id == src.resolve(name).id
    assert proxy.rules.bytes_out <= size - status.offset + 10_000  # the rest, small blobs
    assert dst.content.ingests() == []


def test_retry_on_5xx(proxy: Proxy, src: ImageService, dst: ImageService) -> None:
    name = f"{proxy.addr}/team/app:v1"
    make_image(src, name, [{"a": b"a"}])
    push(src, name)
    digest = _layer_digest(src, name)
    proxy.rules.fail_5xx = 2
    proxy.rules.fail_path = f"/blobs/{digest}"
    got = pull(dst, name, backoff=0.01)
    assert got.image.id == src.resolve(name).id
    assert len([1 for m, t, _ in proxy.rules.log if m == "GET" and digest in t]) == 3
    # more failures than tries: a clear error, nothing stored
    proxy.rules.fail_5xx = 10
    other = f"{proxy.addr}/team/other:v1"
    make_image(src, other, [{"z": b"z"}])
    push(src, other)
    proxy.rules.fail_path = f"/blobs/{_layer_digest(src, other)}"
    with pytest.raises(Unavailable):
        pull(dst, other, backoff=0.01)


def test_cross_repo_mount_and_existing(proxy: Proxy, src: ImageService) -> None:
    name = f"{proxy.addr}/team/app:v1"
    make_image(src, name, [{"a": b"a"}, {"b": b"b"}])
    first = push(src, name)
    assert len(first.uploaded) == 3 and not first.mounted
    src.tag(name, f"{proxy.addr}/team/copy:v1")
    proxy.rules.log.clear()
    events, sink = events_sink()
    second = push(src, f"{proxy.addr}/team/copy:v1", progress=sink)
    assert len(second.mounted) == 3 and not second.uploaded
    assert second.digest == first.digest
    mounts = [t for m, t, _ in proxy.rules.log if m == "POST" and "mount=" in t]
    assert len(mounts) == 3 and all("from=team%2Fapp" in t for t in mounts)
    assert [e.get("status") for e in events].count("Mounted from team/app") == 2
    # pushing again: every blob is already there
    events, sink = events_sink()
    third = push(src, name, progress=sink)
    assert len(third.existing) == 3
    assert [e.get("status") for e in events].count("Layer already exists") == 2


def test_chunked_upload(proxy: Proxy, src: ImageService, dst: ImageService) -> None:
    name = f"{proxy.addr}/team/big:v1"
    rec = make_image(src, name, [BIG])
    res = push(src, name, monolithic_limit=100_000, chunk_size=64_000)
    patches = [h for m, _t, h in proxy.rules.log if m == "PATCH"]
    assert len(patches) >= 6 and patches[0]["Content-Range"] == "0-63999"
    assert pull(dst, name).image.id == rec.id and res.size > 0


@pytest.fixture
def authreg(tmp_path: Path) -> Iterator[RunningRegistry]:
    lines = []
    for user, password in (("alice", "wonderland"), ("bob", "builder")):
        h = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        lines.append(f"{user}:{'$2y$' + h[4:]}")
    (tmp_path / "htpasswd").write_text("\n".join(lines) + "\n")
    rights = {"alice": {"push": ["team/*"], "pull": ["*"]}, "bob": {"pull": ["team/*"]}}
    (tmp_path / "auth.json").write_text(json.dumps({"users": rights, "anonymous_pull": False}))
    r = RunningRegistry(
        tmp_path / "authroot", htpasswd=tmp_path / "htpasswd", auth_config=tmp_path / "auth.json"
    )
    try:
        yield r
    finally:
        r.close()


def test_token_auth(authreg: RunningRegistry, src: ImageService, dst: ImageService) -> None:
    from hull.distribution import validate_login

    name = f"{authreg.addr}/team/app:v1"
    rec = make_image(src, name, [{"a": b"a"}])
    alice = AuthConfig("alice", "wonderland", server_address=authreg.addr)
    bob = AuthConfig("bob", "builder", server_address=authreg.addr)
    with pytest.raises(Unauthorized):
        push(src, name)  # anonymous
    with pytest.raises(Unauthorized):
        push(src, name, auth=bob)  # may only pull
    push(src, name, auth=alice)
    with pytest.raises((NotFound, Unauthorized), match=r"pull access denied|denied|unauthorized"):
        pull(dst, name)  # no anonymous pull here
    assert pull(dst, name, auth=bob).image.id == rec.id
    assert validate_login(alice) == "Login Succeeded"
    with pytest.raises(Unauthorized):
        validate_login(AuthConfig("alice", "nope", server_address=authreg.addr))
    with pytest.raises(InvalidArgument):
        AuthConfig.from_header("!!!")
