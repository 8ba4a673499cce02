"""Containers through hulld as a process: the real docker CLI and the docker SDK.

hulld runs on a temp data root, exec root and socket; ``hull bootstrap
busybox`` makes the image. Teardown removes every container, stops hulld
with SIGTERM, then the container monitor (which outlives hulld by design)
by its pid file, unmounts what is left and deletes the temp tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, requires_root
from tests.e2e.test_daemon_basics import docker_cli, hull, hulld_cmd, wait_socket
from tests.unit.api.test_containers_routes import stop_monitor, unmount_under

pytestmark = [requires_root]


def docker(tmp: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp}/hull.sock")
    env.pop("DOCKER_CONTEXT", None)
    env["DOCKER_CONFIG"] = str(tmp / "docker-config")
    return subprocess.run(
        [docker_cli(), *args], capture_output=True, text=True, env=env, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def hulld() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="hull-e2e-ctr-"))
    proc = subprocess.Popen(hulld_cmd(tmp), stderr=subprocess.PIPE, cwd=REPO)
    try:
        wait_socket(tmp / "hull.sock", proc)
        r = hull(tmp, "bootstrap", "busybox")
        assert r.returncode == 0, r.stderr
        yield tmp
        ids = docker(tmp, "ps", "-aq").stdout.split()
        if ids:
            docker(tmp, "rm", "-f", *ids)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert not (tmp / "hull.sock").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stop_monitor(tmp / "run")
        unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def test_docker_cli_containers(hulld: Path) -> None:
    tmp = hulld
    r = docker(tmp, "run", "--rm", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    assert docker(tmp, "ps", "-aq").stdout == ""  # --rm removed it

    r = docker(tmp, "run", "-d", "--name", "web", "busybox", "sleep", "60")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    assert len(cid) == 64
    r = docker(tmp, "ps")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["CONTAINER", "ID"]
    assert cid[:12] in r.stdout and "web" in r.stdout and "Up" in r.stdout
    r = docker(tmp, "exec", "web", "echo", "in")
    assert (r.returncode, r.stdout) == (0, "in\n"), r.stderr
    r = docker(tmp, "exec", "web", "sh", "-c", "echo out; echo err >&2; exit 4")
    assert (r.returncode, r.stdout, r.stderr) == (4, "out\n", "err\n")
    r = docker(tmp, "logs", "web")
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    r = docker(tmp, "inspect", "web")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)[0]
    assert doc["Id"] == cid and doc["State"]["Running"] is True and doc["Name"] == "/web"
    r = docker(tmp, "inspect", "--format", "{{.Config.Cmd}}", "web")
    assert r.stdout.strip() == "[sleep 60]"
    r = docker(tmp, "stop", "-t", "1", "web")  # sleep as pid 1 ignores SIGTERM
    assert (r.returncode, r.stdout) == (0, "web\n"), r.stderr
    r = docker(tmp, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "web")
    assert r.stdout.strip() == "exited 137"
    r = docker(tmp, "rm", "web")
    assert (r.returncode, r.stdout) == (0, "web\n"), r.stderr
    r = docker(tmp, "inspect", "web")
    assert r.returncode == 1 and "No such" in r.stderr

    r = docker(tmp, "run", "--name", "lg", "busybox", "sh", "-c", "echo one; echo two >&2")
    assert (r.returncode, r.stdout, r.stderr) == (0, "one\n", "two\n")
    r = docker(tmp, "logs", "lg")
    assert (r.stdout, r.stderr) == ("one\n", "two\n")
    assert docker(tmp, "rm", "lg").returncode == 0

    r = docker(tmp, "run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 3, r.stderr
    r = docker(tmp, "run", "--rm", "busybox", "nosuchcmd")
    assert r.returncode == 127, r.stderr
    r = docker(tmp, "run", "--rm", "-i", "busybox", "cat")
    assert r.returncode == 0
    r = subprocess.run(
        [docker_cli(), "run", "--rm", "-i", "busybox", "cat"], input="piped\n",
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, DOCKER_HOST=f"unix://{tmp}/hull.sock",
                 DOCKER_CONFIG=str(tmp / "docker-config")),
    )  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "piped\n"), r.stderr

    r = docker(tmp, "volume", "create", "vol1")
    assert (r.returncode, r.stdout) == (0, "vol1\n"), r.stderr
    r = docker(tmp, "volume", "ls")
    assert r.returncode == 0 and "vol1" in r.stdout and "local" in r.stdout, r.stderr
    r = docker(tmp, "run", "--rm", "-v", "vol1:/v", "busybox", "sh", "-c", "echo x > /v/f")
    assert r.returncode == 0, r.stderr
    r = docker(tmp, "run", "--rm", "-v", "vol1:/v", "busybox", "cat", "/v/f")
    assert r.stdout == "x\n", r.stderr
    r = docker(tmp, "volume", "rm", "vol1")
    assert (r.returncode, r.stdout) == (0, "vol1\n"), r.stderr
    assert "vol1" not in docker(tmp, "volume", "ls", "-q").stdout


def test_docker_sdk_containers(hulld: Path) -> None:
    docker_sdk = pytest.importorskip("docker")
    client = docker_sdk.DockerClient(base_url=f"unix://{hulld}/hull.sock", timeout=60)
    try:
        assert client.containers.run("busybox", "echo hi") == b"hi\n"
        c = client.containers.run("busybox", "sh -c 'echo up; sleep 60'", detach=True)
        with contextlib.suppress(Exception):
            c.wait(timeout=1)
        c.reload()
        assert c.status == "running"
        assert c.logs() == b"up\n"
        assert c.exec_run("echo in").output == b"in\n"
        c.stop(timeout=1)
        c.reload()
        assert c.status == "exited"
        c.remove()
        left = client.containers.list(all=True)  # run() without remove=True keeps the first
        assert [x.attrs["Config"]["Cmd"] for x in left] == [["echo", "hi"]]
        left[0].remove()
        assert client.containers.list(all=True) == []
        with pytest.raises(docker_sdk.errors.ImageNotFound):
            client.containers.create("nosuchimage:1", "true")
        v = client.volumes.create("sdkvol")
        assert [x.name for x in client.volumes.list()] == ["sdkvol"]
        v.remove()
    finally:
        client.close()


def _pane(session: str) -> str:
    r = subprocess.run(["tmux", "capture-pane", "-pt", session], capture_output=True, text=True)
    return r.stdout


def _until(cond: Callable[[], bool], timeout: float = 15) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_docker_cli_tty_detach_attach(hulld: Path) -> None:
    """``docker run -it`` on a real pty (tmux): window size, ctrl-p ctrl-q, ``docker attach``."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    tmp = hulld
    session = f"hull-e2e-{os.getpid()}"
    env = f"DOCKER_HOST=unix://{tmp}/hull.sock DOCKER_CONFIG={tmp}/docker-config"
    run = f"env {env} {docker_cli()} run -it --name tt busybox sh; echo rc=$?; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", run],
                   check=True)  # fmt: skip
    try:
        assert _until(lambda: "/ #" in _pane(session)), _pane(session)
        subprocess.run(["tmux", "send-keys", "-t", session, "stty size", "Enter"], check=True)
        assert _until(lambda: "40 120" in _pane(session)), _pane(session)
        subprocess.run(["tmux", "send-keys", "-t", session, "C-p", "C-q"], check=True)
        assert _until(lambda: "rc=0" in _pane(session)), _pane(session)
        r = docker(tmp, "inspect", "--format", "{{.State.Running}}", "tt")
        assert r.stdout.strip() == "true", r.stderr
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
        att = f"env {env} {docker_cli()} attach tt; echo rc=$?; sleep 30"
        subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", att],
                       check=True)  # fmt: skip
        time.sleep(1)
        subprocess.run(["tmux", "send-keys", "-t", session, "exit 2", "Enter"], check=True)
        assert _until(lambda: "rc=2" in _pane(session)), _pane(session)
        r = docker(tmp, "inspect", "--format", "{{.State.ExitCode}}", "tt")
        assert r.stdout.strip() == "2"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
