"""hull push / pull through hulld against our registry and Debian's docker-registry.

hulld runs as a process on a temp data root; ``python -m hull.registry serve``
and ``docker-registry`` (distribution 2.8) listen on 127.0.0.1; the hull CLI
and the docker SDK drive the daemon. Last, a pull that hulld dies in (SIGKILL)
resumes from the bytes it had when hulld starts again.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.e2e.test_daemon_basics import hulld_cmd, wait_socket
from tests.unit.distribution.helpers import Proxy, ProxyRules


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


class Daemon:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(hulld_cmd(self.tmp), stderr=subprocess.DEVNULL, cwd=REPO)
        wait_socket(self.tmp / "hull.sock", self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        (self.tmp / "hull.sock").unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def hull(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, HULL_HOST=f"unix://{self.tmp}/hull.sock",
                   DOCKER_CONFIG=str(self.tmp / "docker-config"))  # fmt: skip
        cmd = [sys.executable, "-c", "import sys; from hull.cli.main import main; sys.exit(main())"]
        return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env,
                              timeout=timeout, cwd=REPO)  # fmt: skip


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    tmp = Path(tempfile.mkdtemp(prefix="hull-e2e-pp-"))
    d = Daemon(tmp)
    d.start()
    try:
        yield d
    finally:
        d.stop()
        d.kill()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def hull_registry(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hull.registry", "serve", "--addr", f"127.0.0.1:{port}",
         "--root", str(tmp_path / "hullreg")],
        cwd=REPO, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port, proc)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def distribution(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("docker-registry")
    if binary is None:
        r = subprocess.run([str(REPO / "scripts" / "apt-install.sh"), "docker-registry"],
                           capture_output=True, text=True)  # fmt: skip
        binary = shutil.which("docker-registry")
        if binary is None:
            pytest.skip(f"docker-registry is not installed: {r.stderr.strip()}")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp_path / 'distreg'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen([binary, "serve", str(config)], stderr=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_port(port, proc)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _bootstrap(d: Daemon) -> str:
    r = d.hull("bootstrap", "busybox")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _round_trip(d: Daemon, addr: str, image_id: str) -> None:
    name = f"{addr}/x/busybox:latest"
    assert d.hull("tag", "busybox", name).returncode == 0
    r = d.hull("push", name)
    assert r.returncode == 0, r.stderr
    assert f"The push refers to repository [{addr}/x/busybox]" in r.stdout
    m = re.search(r"latest: digest: (sha256:[0-9a-f]{64}) size: \d+", r.stdout)
    assert m, r.stdout
    digest = m.group(1)
    assert re.search(r"^[0-9a-f]{12}: Pushed$", r.stdout, re.M), r.stdout
    # again: the registry has every layer
    r = d.hull("push", name)
    assert r.returncode == 0 and "Layer already exists" in r.stdout, r.stdout + r.stderr
    # remove every name, so the pull really downloads
    for n in (name, "busybox:latest"):
        assert d.hull("rmi", n).returncode == 0
    r = d.hull("pull", name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("latest: Pulling from x/busybox\n"), r.stdout
    assert re.search(r"^[0-9a-f]{12}: Pull complete$", r.stdout, re.M), r.stdout
    assert f"Digest: {digest}" in r.stdout
    assert r.stdout.rstrip().endswith(f"Status: Downloaded newer image for {name}")
    r = d.hull("image", "inspect", "--format", "{{.Id}} {{json .RepoDigests}}", name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == image_id
    assert f"{addr}/x/busybox@{digest}" in r.stdout
    r = d.hull("pull", name)
    assert r.stdout.rstrip().endswith(f"Status: Image is up to date for {name}"), r.stdout
    r = d.hull("pull", "-q", f"{addr}/x/busybox@{digest}")
    assert r.returncode == 0 and r.stdout.strip() == f"{addr}/x/busybox@{digest}", r.stderr
    r = d.hull("pull", f"{addr}/x/nope")
    assert r.returncode == 1 and "Error response from daemon:" in r.stderr
    assert d.hull("tag", name, "busybox:latest").returncode == 0


def test_push_pull_hull_registry(daemon: Daemon, hull_registry: str) -> None:
    _round_trip(daemon, hull_registry, _bootstrap(daemon))


def test_push_pull_docker_registry(daemon: Daemon, distribution: str) -> None:
    _round_trip(daemon, distribution, _bootstrap(daemon))


def test_docker_sdk_pull(daemon: Daemon, hull_registry: str, distribution: str) -> None:
    docker = pytest.importorskip("docker")
    _bootstrap(daemon)
    client = docker.DockerClient(base_url=f"unix://{daemon.tmp}/hull.sock")
    try:
        for addr in (hull_registry, distribution):
            name = f"{addr}/x/busybox"
            assert daemon.hull("tag", "busybox", f"{name}:latest").returncode == 0
            lines = list(client.images.push(name, tag="latest", stream=True, decode=True))
            assert any("digest" in str(x.get("status", "")) for x in lines), lines
            client.images.remove(f"{name}:latest")
            image = client.images.pull(name, tag="latest")
            assert f"{name}:latest" in image.tags
        with pytest.raises(docker.errors.APIError):
            client.images.pull(f"{hull_registry}/x/missing", tag="latest")
    finally:
        client.close()


def test_killed_pull_resumes(daemon: Daemon, hull_registry: str) -> None:
    _bootstrap(daemon)
    host, port = hull_registry.split(":")
    proxy = Proxy((host, int(port)), ProxyRules(delay=0.002))
    try:
        name = f"{proxy.addr}/slow/busybox:latest"
        assert daemon.hull("tag", "busybox", name).returncode == 0
        proxy.rules.delay = 0.0
        assert daemon.hull("push", name).returncode == 0
        for n in (name, "busybox:latest"):
            assert daemon.hull("rmi", n).returncode == 0
        proxy.rules.delay = 0.002  # 4 kB every 2 ms: ~2 MB/s
        proxy.rules.bytes_out = 0
        env = dict(os.environ, HULL_HOST=f"unix://{daemon.tmp}/hull.sock")
        cmd = [sys.executable, "-c", "import sys; from hull.cli.main import main; sys.exit(main())"]
        puller = subprocess.Popen([*cmd, "pull", name], env=env, cwd=REPO,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.time() + 30
        while proxy.rules.bytes_out < 200_000 and time.time() < deadline:
            time.sleep(0.02)
        daemon.kill()
        puller.wait(timeout=30)
        got = proxy.rules.bytes_out
        assert got >= 200_000
        proxy.rules.delay = 0.0
        proxy.rules.log.clear()
        daemon.start()
        r = daemon.hull("pull", name)
        assert r.returncode == 0, r.stderr
        ranges = [h.get("Range") for m, t, h in proxy.rules.log if m == "GET" and "/blobs/" in t]
        assert any(x and x.startswith("bytes=") and x != "bytes=0-" for x in ranges), ranges
    finally:
        proxy.close()
