"""The docker CLI, through a private dockerd, against hull's registry server.

dockerd treats 127.0.0.0/8 registries as insecure (plain HTTP) by default, so
the server listens there without TLS. The CLI's config (where ``login``
stores credentials) lives in a temp ``DOCKER_CONFIG``, never the user's.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from hull.images.archives import save
from hull.images.bootstrap import bootstrap_busybox
from hull.images.service import ImageService
from tests.integration.test_images_interop import DOCKER, Dockerd, dockerd  # noqa: F401
from tests.unit.registry.regserver import RunningRegistry

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run dockerd")]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RunningRegistry]:
    h = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "htpasswd").write_text(f"alice:$2y${h[4:]}\n")
    server = RunningRegistry(tmp_path / "root", htpasswd=tmp_path / "htpasswd")
    try:
        yield server
    finally:
        server.close()


def cli(
    d: Dockerd, cfg: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DOCKER_CONFIG=str(cfg))
    return subprocess.run(
        [DOCKER, "-H", f"unix://{d.sock}", *args],
        capture_output=True, text=True, timeout=120, env=env, input=stdin,
    )  # fmt: skip


def test_docker_login_push_pull(
    dockerd: Dockerd,  # noqa: F811
    registry: RunningRegistry,
    tmp_path: Path,
) -> None:
    cfg = tmp_path / "docker-config"
    cfg.mkdir()
    with ImageService(tmp_path / "hull") as svc, open(tmp_path / "bb.tar", "wb") as f:
        bootstrap_busybox(svc, "busybox:latest")
        save(svc, ["busybox:latest"], f, format="docker")
    assert cli(dockerd, cfg, "load", "-i", str(tmp_path / "bb.tar")).returncode == 0
    ref = f"{registry.addr}/team/bb:1"
    assert cli(dockerd, cfg, "tag", "busybox:latest", ref).returncode == 0

    r = cli(dockerd, cfg, "push", ref)
    assert r.returncode != 0
    # anonymous: the token has no push scope, as Docker Hub answers
    assert "requested access to the resource is denied" in r.stderr, r.stderr

    r = cli(dockerd, cfg, "login", "-u", "alice", "--password-stdin", registry.addr, stdin="nope\n")
    assert r.returncode != 0 and "unauthorized" in r.stderr.lower(), r.stderr
    r = cli(
        dockerd, cfg, "login", "-u", "alice", "--password-stdin", registry.addr, stdin="s3cret\n"
    )
    assert r.returncode == 0 and "Login Succeeded" in r.stdout, r.stderr
    auths = json.loads((cfg / "config.json").read_text())["auths"]
    assert registry.addr in auths  # stored where hull login reads it too

    r = cli(dockerd, cfg, "push", ref)
    assert r.returncode == 0, r.stderr
    pushed = r.stdout.strip().splitlines()[-1]
    assert pushed.startswith("1: digest: sha256:") and "size:" in pushed
    digest = pushed.split()[2]
    # what the registry stores is what docker says it pushed
    tags = registry.request(
        "GET", "/v2/team/bb/tags/list", headers={"Authorization": registry.basic("alice", "s3cret")}
    ).json()
    assert tags == {"name": "team/bb", "tags": ["1"]}

    assert cli(dockerd, cfg, "rmi", ref, "busybox:latest").returncode == 0
    r = cli(dockerd, cfg, "pull", ref)
    assert r.returncode == 0, r.stderr
    assert f"Digest: {digest}" in r.stdout
    r = cli(dockerd, cfg, "run", "--rm", "--network", "none", ref, "echo", "pulled-ok")
    assert (r.returncode, r.stdout) == (0, "pulled-ok\n"), r.stderr

    assert cli(dockerd, cfg, "logout", registry.addr).returncode == 0
    assert cli(dockerd, cfg, "rmi", ref).returncode == 0
    r = cli(dockerd, cfg, "pull", ref)
    assert r.returncode != 0  # the registry does not allow anonymous reads
