"""hull's registry server against podman: push and pull over plain HTTP on 127.0.0.1.

podman runs with a private root, run root and tmp dir under a short temp dir
(it refuses run roots longer than 50 characters), the vfs storage driver,
cgroupfs and file events, and is reset and removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.registry.regserver import RunningRegistry, make_oci_layout

PODMAN = shutil.which("podman")
pytestmark = [
    pytest.mark.skipif(PODMAN is None, reason="podman is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="podman here runs as root"),
]


class Podman:
    def __init__(self, base: Path) -> None:
        self.base = base
        for d in ("root", "run", "tmp"):
            (base / d).mkdir()

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert PODMAN is not None
        cmd = [
            PODMAN,
            "--root", str(self.base / "root"),
            "--runroot", str(self.base / "run"),
            "--tmpdir", str(self.base / "tmp"),
            "--storage-driver", "vfs",
            "--cgroup-manager", "cgroupfs",
            "--events-backend", "file",
            *args,
        ]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=180)


@pytest.fixture
def podman() -> Iterator[Podman]:
    base = Path(tempfile.mkdtemp(prefix="hp", dir="/tmp"))
    p = Podman(base)
    try:
        yield p
    finally:
        p("system", "reset", "--force", check=False)
        subprocess.run(["umount", "-R", str(base)], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_podman_push_pull(podman: Podman, tmp_path: Path) -> None:
    server = RunningRegistry(tmp_path / "root")
    try:
        make_oci_layout(tmp_path / "src")
        podman("pull", f"oci:{tmp_path / 'src'}:v1")
        ref = f"{server.addr}/pod/img:v1"
        image_id = podman("images", "-q", "--no-trunc").stdout.split()[0]
        podman("tag", image_id, ref)
        podman("push", "--tls-verify=false", ref)
        assert server.request("GET", "/v2/pod/img/tags/list").json()["tags"] == ["v1"]
        digest = server.request("HEAD", "/v2/pod/img/manifests/v1").headers["docker-content-digest"]
        podman("rmi", "-a", "-f")
        podman("pull", "--tls-verify=false", ref)
        info = json.loads(podman("image", "inspect", ref).stdout)[0]
        assert info["Digest"] == digest
        assert info["Id"].removeprefix("sha256:") == image_id.removeprefix("sha256:")
        # pull by digest too
        podman("pull", "--tls-verify=false", f"{server.addr}/pod/img@{digest}")
    finally:
        server.close()


def test_podman_login_push_with_token_auth(podman: Podman, tmp_path: Path) -> None:
    import bcrypt

    h = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "htpasswd").write_text(f"alice:$2y${h[4:]}\n")
    server = RunningRegistry(tmp_path / "root", htpasswd=tmp_path / "htpasswd")
    authfile = str(podman.base / "auth.json")
    try:
        make_oci_layout(tmp_path / "src")
        podman("pull", f"oci:{tmp_path / 'src'}:v1")
        image_id = podman("images", "-q", "--no-trunc").stdout.split()[0]
        ref = f"{server.addr}/priv/img:v1"
        podman("tag", image_id, ref)
        denied = podman("push", "--tls-verify=false", "--authfile", authfile, ref, check=False)
        assert denied.returncode != 0
        bad = podman(
            "login", "--tls-verify=false", "--authfile", authfile, "-u", "alice", "-p", "nope",
            server.addr, check=False,
        )  # fmt: skip
        assert bad.returncode != 0
        podman(
            "login", "--tls-verify=false", "--authfile", authfile, "-u", "alice", "-p", "pw",
            server.addr,
        )  # fmt: skip
        podman("push", "--tls-verify=false", "--authfile", authfile, ref)
        podman("rmi", "-a", "-f")
        podman("pull", "--tls-verify=false", "--authfile", authfile, ref)
        podman("logout", "--authfile", authfile, server.addr)
    finally:
        server.close()
