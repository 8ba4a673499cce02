"""Blob routes: uploads (monolithic, chunked, resumed), ranges, mounts, deletes."""

from __future__ import annotations

import os
import socket
import threading
import time

from tests.unit.registry.regserver import RunningRegistry, sha


def test_base(reg: RunningRegistry) -> None:
    r = reg.request("GET", "/v2/")
    assert r.status == 200
    assert r.json() == {}
    assert r.headers["docker-distribution-api-version"] == "registry/2.0"


def test_monolithic_post_and_get(reg: RunningRegistry) -> None:
    data = os.urandom(100_000)
    digest = reg.push_blob("a/b", data)
    r = reg.request("HEAD", f"/v2/a/b/blobs/{digest}")
    assert r.status == 200
    assert r.headers["content-length"] == "100000"
    assert r.headers["docker-content-digest"] == digest
    assert r.body == b""
    r = reg.request("GET", f"/v2/a/b/blobs/{digest}")
    assert r.status == 200 and r.body == data
    # another repository may not serve it without a mount
    assert reg.request("GET", f"/v2/other/blobs/{digest}").status == 404


def test_post_then_put(reg: RunningRegistry) -> None:
    r = reg.request("POST", "/v2/x/blobs/uploads/")
    assert r.status == 202
    assert r.headers["range"] == "0-0"
    assert r.headers["docker-upload-uuid"]
    loc = r.headers["location"]
    data = b"hello world"
    r = reg.request("PUT", f"{loc}?digest={sha(data)}", data)
    assert r.status == 201
    assert r.headers["location"] == f"/v2/x/blobs/{sha(data)}"
    assert r.headers["docker-content-digest"] == sha(data)
    assert reg.request("GET", f"/v2/x/blobs/{sha(data)}").body == data
    # the upload is gone
    assert reg.request("GET", loc).status == 404


def test_chunked_upload_out_of_order_and_resume(reg: RunningRegistry) -> None:
    data = os.urandom(3000)
    loc = reg.request("POST", "/v2/x/blobs/uploads/").headers["location"]
    r = reg.request(
        "PATCH",
        loc,
        data[:1000],
        {"Content-Range": "0-999", "Content-Type": "application/octet-stream"},
    )
    assert r.status == 202 and r.headers["range"] == "0-999"
    # a chunk that does not start at the offset: 416 with the current range
    r = reg.request("PATCH", loc, data[2000:], {"Content-Range": "2000-2999"})
    assert r.status == 416
    assert r.headers["range"] == "0-999"
    assert r.codes == ["RANGE_INVALID"]
    # resume: ask where we are, continue there
    r = reg.request("GET", loc)
    assert r.status == 204 and r.headers["range"] == "0-999"
    r = reg.request("PATCH", loc, data[1000:2000], {"Content-Range": "1000-1999"})
    assert r.status == 202 and r.headers["range"] == "0-1999"
    r = reg.request("PUT", f"{loc}?digest={sha(data)}", data[2000:], {"Content-Range": "2000-2999"})
    assert r.status == 201
    assert reg.request("GET", f"/v2/x/blobs/{sha(data)}").body == data


def test_streamed_patch_without_content_range(reg: RunningRegistry) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    loc = reg.request("POST", "/v2/x/blobs/uploads/").headers["location"]
    r = reg.request("PATCH", loc, data)
    assert r.status == 202 and r.headers["range"] == f"0-{len(data) - 1}"
    assert reg.request("PUT", f"{loc}?digest={sha(data)}").status == 201


def test_digest_mismatch_discards_upload(reg: RunningRegistry) -> None:
    loc = reg.request("POST", "/v2/x/blobs/uploads/").headers["location"]
    r = reg.request("PUT", f"{loc}?digest={sha(b'other')}", b"data")
    assert r.status == 400 and r.codes == ["DIGEST_INVALID"]
    assert reg.request("GET", loc).status == 404
    assert not (reg.config.root / "content" / "blobs" / "sha256" / sha(b"data")[7:]).exists()
    r = reg.request("POST", f"/v2/x/blobs/uploads/?digest={sha(b'other')}", b"data")
    assert r.status == 400 and r.codes == ["DIGEST_INVALID"]
    assert reg.app.storage.content.list() == []
    assert reg.app.storage.content.ingests() == []


def test_put_without_digest_and_bad_digest(reg: RunningRegistry) -> None:
    loc = reg.request("POST", "/v2/x/blobs/uploads/").headers["location"]
    assert reg.request("PUT", loc, b"x").codes == ["DIGEST_INVALID"]
    assert reg.request("PUT", f"{loc}?digest=sha256:XYZ", b"").codes == ["DIGEST_INVALID"]
    assert reg.request("GET", "/v2/x/blobs/sha256:abc").codes == ["DIGEST_INVALID"]
    assert reg.request("GET", "/v2/x/blobs/uploads/not-a-uuid").codes == ["BLOB_UPLOAD_UNKNOWN"]


def test_delete_upload(reg: RunningRegistry) -> None:
    loc = reg.request("POST", "/v2/x/blobs/uploads/").headers["location"]
    reg.request("PATCH", loc, b"abc")
    assert reg.request("DELETE", loc).status == 204
    assert reg.request("GET", loc).status == 404
    assert reg.app.storage.content.ingests() == []


def test_ranges(reg: RunningRegistry) -> None:
    data = bytes(range(256)) * 4
    d = reg.push_blob("x", data)
    r = reg.request("GET", f"/v2/x/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert r.status == 206 and r.body == data[10:20]
    assert r.headers["content-range"] == "bytes 10-19/1024"
    r = reg.request("GET", f"/v2/x/blobs/{d}", headers={"Range": "bytes=1000-"})
    assert r.status == 206 and r.body == data[1000:]
    r = reg.request("GET", f"/v2/x/blobs/{d}", headers={"Range": "bytes=-4"})
    assert r.body == data[-4:]
    r = reg.request("GET", f"/v2/x/blobs/{d}", headers={"Range": "bytes=2000-3000"})
    assert r.status == 416 and r.headers["content-range"] == "bytes */1024"
    r = reg.request("GET", f"/v2/x/blobs/{d}", headers={"Range": "bytes=20-10"})
    assert r.status == 416


def test_big_blob_by_copy_and_by_sendfile(reg: RunningRegistry) -> None:
    # a loopback client gets files through a 1 MiB buffer; others by sendfile(2)
    import http.client

    data = os.urandom(3 * (1 << 20) + 12345)
    d = reg.push_blob("x", data)
    for copy in (True, False):
        reg.server.copy_local = copy
        conn = http.client.HTTPConnection(reg.host, reg.port, timeout=30)
        try:  # one connection: it stays usable after each body
            for _ in range(2):
                conn.request("GET", f"/v2/x/blobs/{d}")
                r = conn.getresponse()
                assert r.status == 200 and r.read() == data, copy
            conn.request("GET", f"/v2/x/blobs/{d}", headers={"Range": "bytes=1000000-2100000"})
            r = conn.getresponse()
            assert r.status == 206 and r.read() == data[1000000:2100001], copy
            conn.request("GET", "/v2/")
            assert conn.getresponse().status == 200
        finally:
            conn.close()


def test_cross_repo_mount(reg: RunningRegistry) -> None:
    d = reg.push_blob("src/repo", b"shared layer")
    r = reg.request("POST", f"/v2/dst/blobs/uploads/?mount={d}&from=src/repo")
    assert r.status == 201
    assert r.headers["location"] == f"/v2/dst/blobs/{d}"
    assert r.headers["docker-content-digest"] == d
    assert reg.request("GET", f"/v2/dst/blobs/{d}").body == b"shared layer"
    # unknown blob or source: an ordinary upload starts instead
    r = reg.request("POST", f"/v2/dst/blobs/uploads/?mount={sha(b'nope')}&from=src/repo")
    assert r.status == 202 and "docker-upload-uuid" in r.headers
    r = reg.request("POST", f"/v2/dst/blobs/uploads/?mount={d}&from=nowhere")
    assert r.status == 202
    assert len(reg.app.storage.content.list()) == 1


def test_delete_blob(reg: RunningRegistry) -> None:
    d = reg.push_blob("x", b"bye")
    assert reg.request("DELETE", f"/v2/x/blobs/{d}").status == 202
    r = reg.request("HEAD", f"/v2/x/blobs/{d}")
    assert r.status == 404
    assert reg.request("DELETE", f"/v2/x/blobs/{d}").codes == ["BLOB_UNKNOWN"]


def test_concurrent_pushes_of_the_same_blob(reg: RunningRegistry) -> None:
    data = os.urandom(2 * 1024 * 1024)
    results: list[int] = []

    def push(i: int) -> None:
        name = f"team/app{i % 3}"
        loc = reg.request("POST", f"/v2/{name}/blobs/uploads/").headers["location"]
        reg.request("PATCH", loc, data[: len(data) // 2])
        reg.request("PATCH", loc, data[len(data) // 2 :])
        results.append(reg.request("PUT", f"{loc}?digest={sha(data)}").status)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 8
    assert [str(d) for d in reg.app.storage.content.list()] == [sha(data)]
    for i in range(3):
        assert reg.request("GET", f"/v2/team/app{i}/blobs/{sha(data)}").body == data


def test_disconnect_mid_upload_leaves_no_blob(reg: RunningRegistry) -> None:
    data = os.urandom(1 << 20)
    digest = sha(data)
    s = socket.create_connection((reg.host, reg.port))
    head = (
        f"POST /v2/x/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    s.sendall(head + data[:300_000])
    time.sleep(0.3)
    s.close()
    time.sleep(0.3)
    assert reg.request("HEAD", f"/v2/x/blobs/{digest}").status == 404
    assert reg.app.storage.content.list() == []
    # and the same over a PATCH: the bytes received are kept for a resume
    loc = reg.request("POST", "/v2/x/blobs/uploads/").headers["location"]
    s = socket.create_connection((reg.host, reg.port))
    head = f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n\r\n".encode()
    s.sendall(head + data[:300_000])
    time.sleep(0.3)
    s.close()
    time.sleep(0.3)
    got = reg.request("GET", loc).headers["range"]
    end = int(got.split("-")[1]) + 1
    assert 0 < end <= 300_000
    assert (
        reg.request("PATCH", loc, data[end:], {"Content-Range": f"{end}-{len(data) - 1}"}).status
        == 202
    )
    assert reg.request("PUT", f"{loc}?digest={digest}").status == 201
    assert reg.request("GET", f"/v2/x/blobs/{digest}").body == data
