"""hulld's image endpoints as a process: the hull CLI, the docker CLI and the docker SDK."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.test_daemon_basics import docker_cli, hull, hulld_cmd, wait_socket


@pytest.fixture
def hulld() -> Iterator[Path]:
    # unix socket paths are limited to 108 bytes: pytest's tmp_path can be longer
    tmp = Path(tempfile.mkdtemp(prefix="hull-e2e-img-"))
    proc = subprocess.Popen(hulld_cmd(tmp), stderr=subprocess.PIPE, cwd=REPO)
    try:
        wait_socket(tmp / "hull.sock", proc)
        yield tmp
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert not (tmp / "hull.sock").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def docker(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp}/hull.sock")
    env.pop("DOCKER_CONTEXT", None)
    env["DOCKER_CONFIG"] = str(tmp / "docker-config")  # no user config (formats, contexts)
    return subprocess.run(
        [docker_cli(), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_hull_and_docker_cli(hulld: Path) -> None:
    tmp = hulld
    r = hull(tmp, "bootstrap", "busybox")
    assert r.returncode == 0, r.stderr
    image_id = r.stdout.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image_id)
    r = hull(tmp, "images")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"REPOSITORY +TAG +IMAGE ID +CREATED +SIZE", lines[0])
    assert re.match(rf"busybox +latest +{image_id[7:19]} +", lines[1])

    r = docker(tmp, "images")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED",
                                                "SIZE"]  # fmt: skip
    assert re.match(rf"busybox +latest +{image_id[7:19]} +", r.stdout.splitlines()[1])
    r = docker(tmp, "tag", "busybox", "localhost:5000/team/bb:v1")
    assert r.returncode == 0, r.stderr
    r = docker(tmp, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert sorted(r.stdout.split()) == ["busybox:latest", "localhost:5000/team/bb:v1"]

    r = docker(tmp, "image", "inspect", "busybox")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)[0]
    assert doc["Id"] == image_id and doc["Config"]["Cmd"] == ["sh"]
    r = docker(tmp, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "busybox")
    assert r.stdout.startswith("linux/")
    r = docker(tmp, "image", "inspect", "nope")
    assert r.returncode == 1 and "No such image: nope" in r.stderr
    r = docker(tmp, "history", "busybox")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:5] == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE"]
    assert image_id[7:19] in r.stdout and "hull bootstrap busybox" in r.stdout

    r = docker(tmp, "rmi", image_id[7:19])
    assert r.returncode == 1 and "must be forced" in r.stderr
    r = docker(tmp, "rmi", "localhost:5000/team/bb:v1")
    assert (r.returncode, r.stdout) == (0, "Untagged: localhost:5000/team/bb:v1\n"), r.stderr

    archive = tmp / "busybox.tar"
    r = docker(tmp, "save", "-o", str(archive), "busybox")
    assert r.returncode == 0, r.stderr
    r = docker(tmp, "rmi", "busybox")
    assert r.returncode == 0, r.stderr
    assert f"Deleted: {image_id}" in r.stdout
    assert docker(tmp, "images", "-q").stdout == ""
    r = docker(tmp, "load", "-i", str(archive))
    assert (r.returncode, r.stdout) == (0, "Loaded image: busybox:latest\n"), r.stderr
    r = hull(tmp, "images", "-q", "--no-trunc")
    assert r.stdout == image_id + "\n"
    r = docker(tmp, "system", "df")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^Images +1 +0 +", r.stdout, re.M)
    r = docker(tmp, "info", "--format", "{{.Images}}")
    assert r.stdout.strip() == "1"


def test_docker_sdk(hulld: Path) -> None:
    docker_sdk = pytest.importorskip("docker")
    tmp = hulld
    r = hull(tmp, "bootstrap", "busybox")
    assert r.returncode == 0, r.stderr
    client = docker_sdk.DockerClient(base_url=f"unix://{tmp}/hull.sock")
    try:
        images = client.images.list()
        assert [i.tags for i in images] == [["busybox:latest"]]
        img = client.images.get("busybox")
        assert img.id == r.stdout.strip() and img.attrs["Config"]["Cmd"] == ["sh"]
        assert img.tag("mybox", "v2") is True
        assert sorted(client.images.get("mybox:v2").tags) == ["busybox:latest", "mybox:v2"]
        assert len(img.history()) == 1
        client.images.remove("mybox:v2")
        assert client.images.get("busybox").tags == ["busybox:latest"]
        data = b"".join(img.save())
        client.images.remove("busybox")
        assert client.images.list() == []
        loaded = client.images.load(data)
        assert [i.id for i in loaded] == [img.id]
        with pytest.raises(docker_sdk.errors.ImageNotFound):
            client.images.get("nope")
        with pytest.raises(docker_sdk.errors.APIError):
            client.images.pull("busybox", tag="latest")
        assert client.images.prune(filters={"dangling": False})["ImagesDeleted"]
        assert client.df()["Images"] == []
    finally:
        client.close()
