"""Limits a user checks from the host, and state that outlives hulld, with the docker CLI.

``--cpus 0.5`` is measured from the container's own cgroup (CPU time over
wall time while a busy loop runs), not from what the engine says it set; the
logs test stops hulld with SIGTERM and starts a new one on the same data
root, as an upgrade or a crash-restart would.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import REPO, requires_root
from tests.e2e.test_containers_api import docker, hulld  # noqa: F401 - the fixture
from tests.e2e.test_daemon_basics import hulld_cmd, wait_socket

pytestmark = [requires_root]


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by the cgroup that ``pid`` is in (v1 cpuacct or v2 cpu.stat)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpuacct" in controllers.split(","):
            mount = "/sys/fs/cgroup/" + controllers
            if not Path(mount).exists():
                mount = "/sys/fs/cgroup/cpu,cpuacct"
            return int(Path(mount + path, "cpuacct.usage").read_text()) / 1e9
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            stat = Path("/sys/fs/cgroup" + path, "cpu.stat").read_text()
            usec = next(ln.split()[1] for ln in stat.splitlines() if ln.startswith("usage_usec"))
            return int(usec) / 1e6
    raise AssertionError(f"no cpu accounting cgroup for pid {pid}")


def test_cpus_half_holds_a_busy_loop_near_half_a_core(hulld: Path) -> None:  # noqa: F811
    tmp = hulld
    r = docker(tmp, "run", "-d", "--network", "none", "--name", "busy", "--cpus", "0.5",
               "busybox", "sh", "-c", "while :; do :; done")  # fmt: skip
    assert r.returncode == 0, r.stderr
    pid = int(docker(tmp, "inspect", "-f", "{{.State.Pid}}", "busy").stdout)
    time.sleep(0.3)  # past the first CFS period's burst
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(2.0)
    used = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    # 2 cores here: unlimited, the loop would take a whole core (1.0)
    assert 0.35 < used < 0.65, f"busy loop used {used:.2f} of a core with --cpus 0.5"
    assert docker(tmp, "rm", "-f", "busy").returncode == 0


def test_logs_and_state_survive_a_daemon_restart(hulld: Path) -> None:  # noqa: F811
    tmp = hulld
    r = docker(tmp, "run", "--network", "none", "--name", "talker", "busybox",
               "sh", "-c", "echo before-restart; echo to-stderr >&2; exit 3")  # fmt: skip
    assert r.returncode == 3, r.stderr
    r = docker(tmp, "run", "-d", "--network", "none", "--name", "sleeper", "busybox",
               "sh", "-c", "echo up; exec sleep 60")  # fmt: skip
    assert r.returncode == 0, r.stderr

    pid = int((tmp / "run" / "hulld.pid").read_text())
    import os

    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 20
    while Path(f"/proc/{pid}").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert not (tmp / "hull.sock").exists()

    proc = subprocess.Popen(hulld_cmd(tmp), stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        wait_socket(tmp / "hull.sock", proc)
        r = docker(tmp, "logs", "talker")
        assert (r.stdout, r.stderr) == ("before-restart\n", "to-stderr\n")
        r = docker(tmp, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "talker")
        assert r.stdout.split() == ["exited", "3"]
        r = docker(tmp, "ps", "--format", "{{.Names}} {{.Status}}")
        assert r.stdout.startswith("sleeper Up"), r.stdout
        assert docker(tmp, "logs", "sleeper").stdout == "up\n"
        # the container hulld did not start is still driven by the new one
        assert docker(tmp, "stop", "-t", "0", "sleeper").returncode == 0
        r = docker(tmp, "inspect", "-f", "{{.State.Status}}", "sleeper")
        assert r.stdout.strip() == "exited"
    finally:
        # the fixture's teardown stops the daemon it started; this one is ours
        docker(tmp, "rm", "-f", "talker", "sleeper")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cgroup_file(pid: int, controller: str, name: str) -> str:
    """A v1 controller file of the cgroup that ``pid`` is in (v2: the unified file)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path(f"/sys/fs/cgroup/{controllers}{path}/{name}").read_text().strip()
    v2 = {"memory.limit_in_bytes": "memory.max", "pids.max": "pids.max"}[name]
    path = Path(f"/proc/{pid}/cgroup").read_text().split("::", 1)[1].strip()
    return Path(f"/sys/fs/cgroup{path}/{v2}").read_text().strip()


def test_update_a_running_and_a_stopped_container(hulld: Path) -> None:  # noqa: F811
    tmp = hulld
    r = docker(tmp, "run", "-d", "--network", "none", "--name", "upd", "-m", "64m",
               "--pids-limit", "50", "busybox", "sleep", "60")  # fmt: skip
    assert r.returncode == 0, r.stderr
    pid = int(docker(tmp, "inspect", "-f", "{{.State.Pid}}", "upd").stdout)
    assert cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(64 << 20)
    r = docker(tmp, "update", "-m", "96m", "--memory-swap", "192m", "--pids-limit", "20",
               "--restart", "on-failure:2", "upd")  # fmt: skip
    assert (r.returncode, r.stdout) == (0, "upd\n"), r.stderr
    assert cgroup_file(pid, "memory", "memory.limit_in_bytes") == str(96 << 20)
    assert cgroup_file(pid, "pids", "pids.max") == "20"
    fmt = "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}"
    assert docker(tmp, "inspect", "-f", fmt, "upd").stdout.split() == [
        str(96 << 20), "20", "on-failure"]  # fmt: skip

    r = docker(tmp, "update", "-m", "300m", "upd")
    assert r.returncode != 0
    assert "update the memoryswap at the same time" in r.stderr

    # stopped: stored now, applied at the next start
    assert docker(tmp, "stop", "-t", "0", "upd").returncode == 0
    assert docker(tmp, "update", "--pids-limit", "33", "upd").returncode == 0
    assert docker(tmp, "start", "upd").returncode == 0
    pid = int(docker(tmp, "inspect", "-f", "{{.State.Pid}}", "upd").stdout)
    assert cgroup_file(pid, "pids", "pids.max") == "33"
    assert docker(tmp, "rm", "-f", "upd").returncode == 0

    r = docker(tmp, "update", "--cpus", "0.5", "no-such-box")
    assert r.returncode != 0 and "No such container: no-such-box" in r.stderr


def wait_health(tmp: Path, name: str, status: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        seen = docker(tmp, "inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()
        if seen == status:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"{name}: health {seen!r}, never {status!r}")


def test_healthcheck_turns_healthy_and_unhealthy(hulld: Path) -> None:  # noqa: F811
    import json

    tmp = hulld
    r = docker(tmp, "run", "-d", "--network", "none", "--name", "hc",
               "--health-cmd", "test -f /tmp/ok && echo fine", "--health-interval", "200ms",
               "--health-retries", "2", "busybox", "sh", "-c",
               "sleep 1.5; touch /tmp/ok; exec sleep 60")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "(health: starting)" in docker(tmp, "ps").stdout
    wait_health(tmp, "hc", "unhealthy")  # two failures before the file exists
    wait_health(tmp, "hc", "healthy")
    assert "(healthy)" in docker(tmp, "ps").stdout
    r = docker(tmp, "ps", "-q", "--filter", "health=healthy")
    assert r.stdout.strip() and docker(tmp, "ps", "-q", "--filter", "health=none").stdout == ""
    health = json.loads(docker(tmp, "inspect", "-f", "{{json .State.Health}}", "hc").stdout)
    assert health["FailingStreak"] == 0
    assert health["Log"][-1]["ExitCode"] == 0 and health["Log"][-1]["Output"] == "fine\n"
    assert len(health["Log"]) <= 5

    assert docker(tmp, "exec", "hc", "rm", "/tmp/ok").returncode == 0
    wait_health(tmp, "hc", "unhealthy")
    r = docker(tmp, "events", "--since", "0", "--until", str(int(time.time()) + 1),
               "--filter", "container=hc", "--format", "{{.Action}}")  # fmt: skip
    actions = r.stdout.splitlines()
    assert "health_status: healthy" in actions and "health_status: unhealthy" in actions
    assert docker(tmp, "rm", "-f", "hc").returncode == 0

    # a probe that hangs is killed at its timeout and counts as a failure
    r = docker(tmp, "run", "-d", "--network", "none", "--name", "slow",
               "--health-cmd", "sleep 5", "--health-timeout", "300ms", "--health-interval",
               "200ms", "--health-retries", "1", "busybox", "sleep", "60")  # fmt: skip
    assert r.returncode == 0, r.stderr
    wait_health(tmp, "slow", "unhealthy")
    health = json.loads(docker(tmp, "inspect", "-f", "{{json .State.Health}}", "slow").stdout)
    assert health["Log"][0]["ExitCode"] == -1
    assert health["Log"][0]["Output"] == "Health check exceeded timeout (300ms)"
    assert docker(tmp, "rm", "-f", "slow").returncode == 0


def test_out_of_memory_is_reported_as_docker_does(hulld: Path) -> None:  # noqa: F811
    tmp = hulld
    # tail of a file without newlines keeps all of it: it grows until the limit kills it
    r = docker(tmp, "run", "--name", "oom", "--network", "none", "-m", "8m", "--memory-swap", "8m",
               "busybox", "tail", "/dev/zero", timeout=120)  # fmt: skip
    assert r.returncode == 137, r.stderr
    r = docker(tmp, "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "oom")
    assert r.stdout.split() == ["true", "137"]
    assert docker(tmp, "rm", "oom").returncode == 0
