"""The image endpoints against an in-process hulld on a temp data root."""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hull.api import Daemon
from hull.client import Client
from hull.errors import Conflict, HullError, InvalidArgument, NotFound
from hull.images import UsedBy
from tests.unit.api._daemon import running_daemon


def rootfs_tar(files: dict[str, bytes] | None = None) -> bytes:
    """A small reproducible rootfs tarball."""
    files = files or {"etc/hello": b"hello\n"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in sorted(files.items()):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 1_700_000_000, 0o644
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def import_image(c: Client, repo: str = "", data: bytes | None = None, **params: Any) -> str:
    msgs = list(
        c.stream(
            "POST",
            "/images/create",
            params={"fromSrc": "-", "repo": repo, **params},
            data=data if data is not None else rootfs_tar(),
        )
    )
    assert len(msgs) == 1 and msgs[0]["status"].startswith("sha256:"), msgs
    return str(msgs[0]["status"])


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Daemon, Client]]:
    with running_daemon(tmp_path) as d:
        client = Client(d.addresses[0])
        try:
            yield d, client
        finally:
            client.close()


def test_import_list_inspect_history(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    image_id = import_image(
        c,
        "foo:1",
        changes=None,
        message="made by a test",
    )
    # changes are repeated query parameters, which the client's params cannot say
    q = "fromSrc=-&repo=bar&tag=2&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3Db%20C%3Dd"
    reply = c.request("POST", f"/images/create?{q}", data=rootfs_tar({"x": b"1"}))
    bar_id = reply.json()["status"]
    images = c.get("/images/json")
    assert [i["RepoTags"] for i in images] in (
        [["foo:1"], ["bar:2"]],
        [["bar:2"], ["foo:1"]],
    )
    foo = next(i for i in images if i["Id"] == image_id)
    assert set(foo) == {
        "Containers", "Created", "Id", "Labels", "ParentId", "RepoDigests", "RepoTags",
        "SharedSize", "Size", "VirtualSize",
    }  # fmt: skip
    assert foo["Size"] > 0 and foo["SharedSize"] == -1 and foo["Containers"] == -1
    assert [i["Id"] for i in c.get("/images/json", {"filters": {"reference": ["fo*"]}})] == [
        image_id
    ]
    shared = c.get("/images/json", {"shared-size": True})
    assert all(i["SharedSize"] == 0 for i in shared)

    doc = c.get("/images/bar:2/json")
    assert doc["Id"] == bar_id and doc["RepoTags"] == ["bar:2"]
    assert doc["Config"]["Cmd"] == ["sh"] and doc["Config"]["Env"] == ["A=b", "C=d"]
    assert doc["Os"] == "linux" and doc["RootFS"]["Type"] == "layers"
    assert c.get(f"/images/{image_id[7:19]}/json")["Id"] == image_id  # a short ID

    hist = c.get("/images/foo:1/history")
    assert len(hist) == 1 and hist[0]["Id"] == image_id and hist[0]["Tags"] == ["foo:1"]
    assert hist[0]["Comment"] == "made by a test" and hist[0]["Size"] == foo["Size"]

    with pytest.raises(NotFound, match=r"^No such image: nope:latest$"):
        c.get("/images/nope/json")
    with pytest.raises(NotFound, match="No such image"):
        c.get("/images/nope/history")
    with pytest.raises(InvalidArgument, match="invalid filter 'bogus'"):
        c.get("/images/json", {"filters": {"bogus": ["1"]}})
    assert c.get("/info")["Images"] == 2
    until = f"{time.time() + 1:.9f}"
    events = list(c.stream("GET", "/events", params={"since": "0", "until": until}))
    assert [(e["Type"], e["Action"]) for e in events] == [("image", "import")] * 2


def test_tag_and_remove_rules(daemon: tuple[Daemon, Client]) -> None:
    d, c = daemon
    image_id = import_image(c, "foo:1")
    short = image_id[7:19]
    assert c.request("POST", "/images/foo:1/tag", params={"repo": "bar", "tag": "2"}).status == 201
    c.request("POST", f"/images/{short}/tag", params={"repo": "localhost:5000/team/app:v1"})
    tags = c.get("/images/foo:1/json")["RepoTags"]
    assert sorted(tags) == ["bar:2", "foo:1", "localhost:5000/team/app:v1"]
    with pytest.raises(NotFound, match="No such image: missing:latest"):
        c.request("POST", "/images/missing/tag", params={"repo": "x"})

    # by id, with several repositories: must be forced
    with pytest.raises(Conflict) as exc:
        c.delete(f"/images/{short}")
    assert exc.value.message == (
        f"conflict: unable to delete {short} (must be forced) - "
        "image is referenced in multiple repositories"
    )
    # by name: only untagged while other names remain
    assert c.delete("/images/bar:2") == [{"Untagged": "bar:2"}]
    assert c.delete("/images/localhost:5000/team/app:v1") == [
        {"Untagged": "localhost:5000/team/app:v1"}
    ]

    # a container uses it: a stopped one blocks a plain rmi by name, a running one even -f
    d.app.image_users = lambda i: [UsedBy("c" * 64)] if i == image_id else []
    with pytest.raises(Conflict) as exc:
        c.delete("/images/foo:1")
    assert exc.value.message == (
        'conflict: unable to remove repository reference "foo:1" (must force) - '
        f"container cccccccccccc is using its referenced image {short}"
    )
    d.app.image_users = lambda i: [UsedBy("c" * 64, running=True)]
    with pytest.raises(Conflict) as exc:
        c.delete(f"/images/{image_id}", {"force": True})
    assert exc.value.message == (
        f"conflict: unable to delete {short} (cannot be forced) - "
        "image is being used by running container cccccccccccc"
    )
    d.app.image_users = lambda i: []

    out = c.delete("/images/foo:1")
    assert out[0] == {"Untagged": "foo:1"} and out[1] == {"Deleted": image_id}
    with pytest.raises(NotFound) as nf:
        c.delete("/images/foo:1")
    assert nf.value.message == "No such image: foo:1"
    assert c.get("/images/json") == []


def test_prune(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    dangling = import_image(c, "", rootfs_tar({"a": b"1"}))
    tagged = import_image(c, "keep:1", rootfs_tar({"b": b"2"}))
    listed = c.get("/images/json", {"filters": {"dangling": ["true"]}})
    assert [i["Id"] for i in listed] == [dangling]
    assert listed[0]["RepoTags"] == ["<none>:<none>"]

    report = c.post("/images/prune")
    assert report["ImagesDeleted"][0] == {"Deleted": dangling}
    assert report["SpaceReclaimed"] > 0
    assert [i["Id"] for i in c.get("/images/json")] == [tagged]
    assert c.post("/images/prune") == {"ImagesDeleted": None, "SpaceReclaimed": 0}

    # label filters choose among all unused images
    q = "fromSrc=-&repo=lab:1&changes=LABEL%20team%3Da"
    c.request("POST", f"/images/create?{q}", data=rootfs_tar({"c": b"3"}))
    report = c.post("/images/prune", {"filters": {"dangling": ["false"], "label": ["team=a"]}})
    assert {"Untagged": "lab:1"} in report["ImagesDeleted"]
    assert [i["RepoTags"] for i in c.get("/images/json")] == [["keep:1"]]
    report = c.post("/images/prune", {"filters": {"dangling": ["false"], "until": ["1h"]}})
    assert report["ImagesDeleted"] is None  # made just now: not before an hour ago
    report = c.post("/images/prune", {"filters": {"dangling": ["false"]}})
    assert {"Untagged": "keep:1"} in report["ImagesDeleted"]
    assert c.get("/images/json") == []
    with pytest.raises(InvalidArgument, match="invalid filter 'reference'"):
        c.post("/images/prune", {"filters": {"reference": ["x"]}})


def test_save_load_round_trip(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    # several MiB, so the tar crosses the route's stream in many chunks
    big = os.urandom(3 * 1024 * 1024 + 17)
    image_id = import_image(c, "foo:1", rootfs_tar({"big": big, "etc/hello": b"hi\n"}))
    c.request("POST", "/images/foo:1/tag", params={"repo": "foo", "tag": "2"})
    tar = b"".join(c.stream_raw("GET", "/images/foo:1/get"))
    both = b"".join(c.stream_raw("GET", "/images/get?names=foo:1&names=foo:2"))
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        names = tf.getnames()
        assert "manifest.json" in names and "repositories" in names
    with tarfile.open(fileobj=io.BytesIO(both)) as tf:
        manifest = tf.extractfile("manifest.json")
        assert manifest is not None and b'"foo:2"' in manifest.read()
    with pytest.raises(NotFound, match="No such image: nope:latest"):
        b"".join(c.stream_raw("GET", "/images/nope/get"))

    # a client that goes away mid-stream leaves the daemon serving
    chunks = c.stream_raw("GET", "/images/foo:1/get")
    next(chunks)
    chunks.close()

    c.delete("/images/foo:1")
    c.delete("/images/foo:2")
    assert c.get("/images/json") == []
    msgs = list(c.stream("POST", "/images/load", params={"quiet": True}, data=both))
    assert sorted(m["stream"] for m in msgs) == [
        "Loaded image: foo:1\n",
        "Loaded image: foo:2\n",
    ]
    assert c.get("/images/foo:1/json")["Id"] == image_id
    bad = list(c.stream("POST", "/images/load", data=b"not a tar" * 100))
    assert len(bad) == 1 and bad[0]["error"] and bad[0]["errorDetail"]["message"] == bad[0]["error"]


def test_create_refusals(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    # a registry that is not there (a closed port on loopback): a clear error
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(HullError, match=f"127.0.0.1:{port}"):
        c.post("/images/create", {"fromImage": f"127.0.0.1:{port}/busybox", "tag": "latest"})
    with pytest.raises(InvalidArgument, match="does not download"):
        c.post("/images/create", {"fromSrc": "http://example.com/x.tar"})
    with pytest.raises(InvalidArgument, match="not a valid change command"):
        c.post("/images/create?fromSrc=-&changes=RUN%20x", data=rootfs_tar())
    with pytest.raises(InvalidArgument, match="cannot import digest reference"):
        c.post("/images/create", {"fromSrc": "-", "repo": "x@sha256:" + "a" * 64})
    assert c.get("/images/json") == []


def test_system_df(daemon: tuple[Daemon, Client]) -> None:
    _, c = daemon
    assert c.get("/system/df") == {
        "LayersSize": 0, "Images": [], "Containers": [], "Volumes": [], "BuildCache": [],
    }  # fmt: skip
    image_id = import_image(c, "foo:1")
    # LayersSize counts unpacked layers; a load unpacks them
    tar = b"".join(c.stream_raw("GET", "/images/foo:1/get"))
    c.delete("/images/foo:1")
    list(c.stream("POST", "/images/load", data=tar))
    df = c.get("/system/df")
    assert df["LayersSize"] > 0
    assert [i["Id"] for i in df["Images"]] == [image_id]
    assert df["Images"][0]["Containers"] == 0 and df["Images"][0]["SharedSize"] == 0
    assert c.get("/system/df", {"type": "image"}).keys() == {"LayersSize", "Images"}
    with pytest.raises(InvalidArgument, match="unknown object type"):
        c.get("/system/df", {"type": "bogus"})
