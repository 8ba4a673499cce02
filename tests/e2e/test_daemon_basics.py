"""hulld as a process: the hull CLI, the docker CLI and the docker SDK against it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO


def hulld_cmd(tmp: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-c", "import sys; from hull.api.daemon import main; sys.exit(main())",
        "--data-root", str(tmp / "data"), "--exec-root", str(tmp / "run"),
        "-H", f"unix://{tmp}/hull.sock", *extra,
    ]  # fmt: skip


def wait_socket(path: Path, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists():
            return
        if proc.poll() is not None:
            raise AssertionError(
                f"hulld exited {proc.returncode}: {proc.stderr and proc.stderr.read()}"
            )
        time.sleep(0.05)
    raise AssertionError("hulld did not create its socket")


@pytest.fixture
def hulld(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    import tempfile

    # unix socket paths are limited to 108 bytes: pytest's tmp_path can be longer
    tmp = Path(tempfile.mkdtemp(prefix="hull-e2e-"))
    proc = subprocess.Popen(hulld_cmd(tmp), stderr=subprocess.PIPE, cwd=REPO)
    try:
        wait_socket(tmp / "hull.sock", proc)
        yield proc, tmp
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def hull(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HULL_HOST=f"unix://{tmp}/hull.sock")
    cmd = [sys.executable, "-c", "import sys; from hull.cli.main import main; sys.exit(main())"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=30)


def test_hull_cli(hulld: tuple[subprocess.Popen[bytes], Path]) -> None:
    _, tmp = hulld
    r = hull(tmp, "version")
    assert r.returncode == 0, r.stderr
    assert "Server: hull" in r.stdout and "1.43" in r.stdout
    r = hull(tmp, "info", "--format", "{{.DockerRootDir}}")
    assert r.returncode == 0 and r.stdout.strip() == str(tmp / "data")


def docker_cli() -> str:
    for cand in ("/usr/bin/docker", shutil.which("docker")):
        if cand and os.path.exists(cand):
            return cand
    pytest.fail("the docker CLI is not installed (apt-get install docker.io)")


def test_docker_cli(hulld: tuple[subprocess.Popen[bytes], Path]) -> None:
    _, tmp = hulld
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp}/hull.sock")
    env.pop("DOCKER_CONTEXT", None)
    r = subprocess.run([docker_cli(), "version"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    server = r.stdout.split("Server:", 1)[1]
    assert "API version:      1.43 (minimum version 1.24)" in server
    r = subprocess.run([docker_cli(), "info"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert f"Docker Root Dir: {tmp / 'data'}" in r.stdout


def test_docker_sdk(hulld: tuple[subprocess.Popen[bytes], Path]) -> None:
    docker = pytest.importorskip("docker")
    _, tmp = hulld
    client = docker.DockerClient(base_url=f"unix://{tmp}/hull.sock")
    try:
        assert client.ping() is True
        v = client.version()
        assert v["ApiVersion"] == "1.43" and v["Components"][0]["Name"] == "Engine"
        assert client.info()["OSType"] == "linux"
    finally:
        client.close()


def test_sigterm_and_pidfile(hulld: tuple[subprocess.Popen[bytes], Path]) -> None:
    proc, tmp = hulld
    second = subprocess.run(hulld_cmd(tmp, "-H", f"unix://{tmp}/other.sock"), capture_output=True,
                            text=True, timeout=30, cwd=REPO)  # fmt: skip
    assert second.returncode == 1
    assert f"hulld is already running with pid {proc.pid}" in second.stderr
    assert (tmp / "hull.sock").exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert not (tmp / "hull.sock").exists()
    assert not (tmp / "run" / "hulld.pid").exists()
