"""The OCI runtime against the real kernel, hull-runtime and runc side by side.

Each test asserts what a user checks from inside the container (its pid,
hostname, interfaces, mounts, limits, capabilities) or from the host (its
cgroup files, its state). runc runs the same assertions as a reference.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Runtime, unique_id


def run(runtime: Runtime, bundle: Any, timeout: float = 30) -> Any:
    cid = unique_id()
    return runtime("run", "--bundle", str(bundle.path), cid, timeout=timeout)


def test_pid_1_and_hostname(runtime: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["hostname"] = "box-under-test"

    b = make_bundle(["sh", "-c", "echo $$; hostname"], edit)
    res = run(runtime, b)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1", "box-under-test"]


def test_signals_reach_the_program_at_their_defaults(runtime: Runtime, make_bundle: Any) -> None:
    # a runtime written in Python ignores SIGPIPE itself: the container must not inherit it
    res = run(runtime, make_bundle(["sh", "-c", "grep -E 'Sig(Ign|Blk)' /proc/self/status; "
                                    "yes | head -c 3 >/dev/null; echo done"]))  # fmt: skip
    assert res.returncode == 0, res.stderr
    words = res.stdout.split()
    masks = dict(zip(words[0:4:2], (int(w, 16) for w in words[1:4:2]), strict=True))
    # what the caller ignores passes through (runc does the same); these two Python adds
    sigpipe, sigxfsz = 1 << (13 - 1), 1 << (25 - 1)
    assert masks["SigIgn:"] & (sigpipe | sigxfsz) == 0
    if runtime.name == "hull-runtime":
        assert masks["SigBlk:"] == 0
    assert words[-1] == "done"


def test_network_namespace_has_only_lo(runtime: Runtime, make_bundle: Any) -> None:
    res = run(runtime, make_bundle(["cat", "/proc/net/dev"]))
    assert res.returncode == 0, res.stderr
    ifaces = [ln.split(":")[0].strip() for ln in res.stdout.splitlines()[2:]]
    assert ifaces == ["lo"]


def test_pivot_root_hides_host(runtime: Runtime, make_bundle: Any, tmp_path: Path) -> None:
    marker = tmp_path / "host-only-marker"
    marker.write_text("secret")
    b = make_bundle(["sh", "-c", f"cat /proc/self/mountinfo; test -e {marker} && echo LEAK; true"])
    res = run(runtime, b)
    assert res.returncode == 0, res.stderr
    assert "LEAK" not in res.stdout
    mountpoints = [ln.split()[4] for ln in res.stdout.splitlines()]
    assert "/" in mountpoints
    # nothing of the host's tree: every mount point is one the spec asked for
    allowed = ("/", "/proc", "/dev", "/sys", "/tmp")
    assert all(m == "/" or m.startswith(allowed[1:]) for m in mountpoints), mountpoints
    assert str(tmp_path) not in res.stdout


def test_user_namespace_mapping(runtime: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]

    b = make_bundle(["sh", "-c", "cat /proc/self/uid_map; id -u"], edit)
    res = run(runtime, b)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split("\n")
    assert lines[0].split() == ["0", "100000", "65536"]
    assert lines[1].strip() == "0"


def _cg(controller: str, path: str, name: str) -> str:
    return Path(f"/sys/fs/cgroup/{controller}{path}/{name}").read_text().strip()


def test_cgroup_resources_applied(runtime: Runtime, make_bundle: Any) -> None:
    cid = unique_id()
    path = f"{runtime.cgroup_prefix}/{cid}"

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["cgroupsPath"] = path
        c["linux"]["resources"].update(
            {
                "memory": {"limit": 64 * 1024 * 1024, "reservation": 32 * 1024 * 1024},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
                "pids": {"limit": 42},
            }
        )

    b = make_bundle(["sleep", "30"], edit)
    res = runtime("create", "--bundle", str(b.path), cid)
    assert res.returncode == 0, res.stderr
    try:
        assert _cg("memory", path, "memory.limit_in_bytes") == str(64 * 1024 * 1024)
        assert _cg("memory", path, "memory.soft_limit_in_bytes") == str(32 * 1024 * 1024)
        assert _cg("cpu", path, "cpu.shares") == "512"
        assert _cg("cpu", path, "cpu.cfs_quota_us") == "50000"
        assert _cg("cpuset", path, "cpuset.cpus") == "0"
        assert _cg("pids", path, "pids.max") == "42"
        pid = int(Path(f"/sys/fs/cgroup/pids{path}/cgroup.procs").read_text().split()[0])
        assert pid > 0
    finally:
        runtime("delete", "--force", cid)
        for ctrl in ("memory", "cpu", "pids", "cpuset"):
            d = Path(f"/sys/fs/cgroup/{ctrl}{runtime.cgroup_prefix}")
            if d.exists():
                for sub in d.iterdir():
                    if sub.is_dir():
                        sub.rmdir()
                d.rmdir()
    assert not Path(f"/sys/fs/cgroup/memory{path}").exists()


def test_memory_limit_oom_kills(runtime: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["resources"]["memory"] = {"limit": 16 << 20, "swap": 16 << 20}

    # dd's 64 MiB buffer is touched page by page: far beyond the limit
    b = make_bundle(["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], edit)
    res = run(runtime, b)
    assert res.returncode == 137, (res.returncode, res.stderr)


def test_pids_limit_stops_fork_loop(runtime: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["resources"]["pids"] = {"limit": 8}

    script = "i=0; while [ $i -lt 30 ]; do sleep 2 & i=$((i+1)); done 2>&1; echo done"
    res = run(runtime, make_bundle(["sh", "-c", script], edit))
    assert "can't fork" in res.stdout + res.stderr


def test_device_rule_denies_block_device(runtime: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        for k in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][k].append("CAP_MKNOD")

    script = "mknod /dev/fakesda b 8 0 && head -c 1 /dev/fakesda; echo rc=$?"
    res = run(runtime, make_bundle(["sh", "-c", script], edit))
    out = res.stdout + res.stderr
    assert "Operation not permitted" in out
    assert "rc=1" in out


def test_masked_and_readonly_paths(runtime: Runtime, make_bundle: Any) -> None:
    script = (
        "wc -c < /proc/keys; ls /sys/firmware | wc -l;"
        " echo 1 > /proc/sys/kernel/domainname 2>&1 || echo ROFS"
    )
    res = run(runtime, make_bundle(["sh", "-c", script]))
    lines = res.stdout.split()
    assert lines[0] == "0"  # /dev/null over /proc/keys
    assert lines[1] == "0"  # empty tmpfs over /sys/firmware
    assert "ROFS" in res.stdout
    assert "Read-only file system" in res.stderr + res.stdout


def test_capabilities_dropped(runtime: Runtime, make_bundle: Any) -> None:
    script = "grep CapEff /proc/self/status; mount -t tmpfs none /tmp 2>&1; echo rc=$?"
    res = run(runtime, make_bundle(["sh", "-c", script]))
    eff = int(res.stdout.split()[1], 16)
    assert not eff & (1 << 21)  # CAP_SYS_ADMIN
    # the default set: AUDIT_WRITE, KILL, NET_BIND_SERVICE
    assert eff == (1 << 29) | (1 << 5) | (1 << 10)
    assert "rc=0" not in res.stdout


def test_seccomp_errno(runtime: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}
            ],
        }

    res = run(runtime, make_bundle(["sh", "-c", "mkdir /tmp/d 2>&1; echo rc=$?"], edit))
    assert "Not supported" in res.stdout or "Operation not supported" in res.stdout, res.stdout
    assert "rc=1" in res.stdout


def test_create_start_split_and_exec(runtime: Runtime, make_bundle: Any) -> None:
    cid = unique_id()
    b = make_bundle(["sh", "-c", "echo hello > /tmp/started; sleep 30"])
    res = runtime("create", "--bundle", str(b.path), cid)
    assert res.returncode == 0, res.stderr
    import json

    state = json.loads(runtime("state", cid).stdout)
    assert state["status"] == "created"
    assert state["pid"] > 0
    res = runtime("start", cid)
    assert res.returncode == 0, res.stderr
    state = json.loads(runtime("state", cid).stdout)
    assert state["status"] == "running"
    deadline = time.time() + 5
    out = ""
    while time.time() < deadline:
        r = runtime("exec", cid, "sh", "-c", "cat /tmp/started 2>/dev/null; echo pid=$$")
        out = r.stdout
        if "hello" in out:
            break
        time.sleep(0.05)
    assert "hello" in out
    assert "pid=1\n" not in out
    r = runtime("exec", cid, "sh", "-c", "exit 7")
    assert r.returncode == 7
    assert runtime("kill", cid, "KILL").returncode == 0
    deadline = time.time() + 5
    while time.time() < deadline:
        if json.loads(runtime("state", cid).stdout)["status"] == "stopped":
            break
        time.sleep(0.02)
    assert json.loads(runtime("state", cid).stdout)["status"] == "stopped"
    assert runtime("delete", cid).returncode == 0
    assert runtime("state", cid).returncode != 0
    assert not (runtime.root / cid).exists()


def test_delete_refuses_running_without_force(runtime: Runtime, make_bundle: Any) -> None:
    cid = unique_id()
    b = make_bundle(["sleep", "30"])
    assert runtime("run", "--detach", "--bundle", str(b.path), cid).returncode == 0
    res = runtime("delete", cid)
    assert res.returncode != 0
    assert "running" in res.stderr
    assert runtime("delete", "--force", cid).returncode == 0
    assert runtime("state", cid).returncode != 0


def test_exit_code_propagates(runtime: Runtime, make_bundle: Any) -> None:
    res = run(runtime, make_bundle(["sh", "-c", "exit 42"]))
    assert res.returncode == 42


def test_only_stdio_fds_reach_container(runtime: Runtime, make_bundle: Any) -> None:
    res = run(runtime, make_bundle(["ls", "/proc/self/fd"]))
    assert res.returncode == 0, res.stderr
    # 0, 1, 2 and the directory ls itself opened
    assert sorted(int(x) for x in res.stdout.split()) == [0, 1, 2, 3]


def test_rlimits_and_env_and_cwd(runtime: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]
        c["process"]["env"].append("GREETING=hi there")
        c["process"]["cwd"] = "/tmp"

    res = run(runtime, make_bundle(["sh", "-c", 'ulimit -n; echo "$GREETING"; pwd'], edit))
    assert res.stdout.split("\n")[:3] == ["256", "hi there", "/tmp"]


def test_user_and_groups(runtime: Runtime, make_bundle: Any) -> None:
    def edit(c: dict[str, Any]) -> None:
        c["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 7]}

    res = run(runtime, make_bundle(["sh", "-c", "id -u; id -g; id -G"], edit))
    assert res.stdout.split("\n")[:3] == ["1000", "1001", "1001 5 7"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["/bin/does-not-exist"], 127, "no such file"),
        (["does-not-exist"], 127, "executable file not found"),
        (["/etc/passwd"], 126, "permission denied"),
    ],
)
def test_bad_executable(
    hull_rt: Runtime, make_bundle: Any, args: list[str], code: int, needle: str
) -> None:
    cid = unique_id()
    res = hull_rt("run", "--bundle", str(make_bundle(args).path), cid)
    assert res.returncode == code
    assert needle in res.stderr.lower()
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (hull_rt.root / cid).exists()
    assert not Path(f"/sys/fs/cgroup/memory/hull/{cid}").exists()


def test_bad_input_errors(hull_rt: Runtime, make_bundle: Any, tmp_path: Path) -> None:
    res = hull_rt("run", "--bundle", str(tmp_path / "nope"), "x1")
    assert res.returncode == 1 and "does not exist" in res.stderr
    bad = tmp_path / "badjson"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    res = hull_rt("run", "--bundle", str(bad), "x2")
    assert res.returncode == 1 and "not valid JSON" in res.stderr
    b = make_bundle(["true"], lambda c: c["process"].__setitem__("args", "true"))
    res = hull_rt("run", "--bundle", str(b.path), "x3")
    assert res.returncode == 1 and "process.args" in res.stderr
    cid = unique_id()
    b = make_bundle(["sleep", "10"])
    assert hull_rt("create", "--bundle", str(b.path), cid).returncode == 0
    res = hull_rt("create", "--bundle", str(b.path), cid)
    assert res.returncode == 1 and "already exists" in res.stderr
    res = hull_rt("kill", cid, "SIGNOPE")
    assert res.returncode == 1 and "unknown signal" in res.stderr
    assert hull_rt("delete", "--force", cid).returncode == 0
    assert os.listdir(hull_rt.root) == []


def test_mount_destination_symlink_stays_inside(
    hull_rt: Runtime, make_bundle: Any, tmp_path: Path
) -> None:
    from tests.conftest import make_busybox_rootfs

    rootfs = make_busybox_rootfs(tmp_path / "evil-rootfs")
    outside = tmp_path / "outside"
    outside.mkdir()
    # a symlink in the image climbing out of it to a host directory
    (rootfs / "escape").symlink_to("../../../../../../../../../" + str(outside).lstrip("/"))

    def edit(c: dict[str, Any]) -> None:
        c["root"] = {"path": str(rootfs), "readonly": False}
        # no tmpfs on /tmp: the clamped path must land on the rootfs itself
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/tmp"]
        c["mounts"].append(
            {"destination": "/escape/x", "type": "tmpfs", "source": "tmpfs", "options": []}
        )

    res = hull_rt("run", "--bundle", str(make_bundle(["true"], edit).path), unique_id())
    assert res.returncode == 0, res.stderr
    # the mount landed inside the rootfs, not in the host directory
    assert not (outside / "x").exists()
    assert (rootfs / str(outside).lstrip("/") / "x").is_dir()
    assert (
        hull_rt("run", "--bundle", str(make_bundle(["true"], edit).path), unique_id()).returncode
        == 0
    )


def test_symlink_to_runtime_exe_is_refused(
    hull_rt: Runtime, make_bundle: Any, tmp_path: Path
) -> None:
    """A program that is /proc/self/exe would run the host's interpreter in the container."""
    from tests.conftest import make_busybox_rootfs

    rootfs = make_busybox_rootfs(tmp_path / "rootfs-exe")
    (rootfs / "bin" / "evil").symlink_to("/proc/self/exe")
    script = rootfs / "bin" / "evil.sh"
    script.write_text("#!/proc/self/exe\n")
    script.chmod(0o755)

    def edit(c: dict[str, Any]) -> None:
        c["root"] = {"path": str(rootfs), "readonly": True}

    for prog in ("/bin/evil", "/bin/evil.sh"):
        res = hull_rt("run", "--bundle", str(make_bundle([prog], edit).path), unique_id())
        assert res.returncode == 126, res.stderr
        assert "refusing" in res.stderr


def test_delete_cleans_up_after_killed_create(hull_rt: Runtime, make_bundle: Any) -> None:
    """SIGKILL of the runtime in the middle of create: delete still removes the cgroup."""
    import signal
    import subprocess

    cid = unique_id()
    marker = f"29.{os.getpid()}{int(time.time()) % 1000}"

    def edit(c: dict[str, Any]) -> None:
        # a prestart hook that never ends holds create at its midpoint
        c["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", marker]}]}

    b = make_bundle(["true"], edit)
    p = subprocess.Popen(hull_rt.cmd("create", "--bundle", str(b.path), cid))
    cg = Path(f"/sys/fs/cgroup/memory/hull/{cid}")
    deadline = time.time() + 10
    while time.time() < deadline and not cg.exists():
        time.sleep(0.02)
    time.sleep(0.2)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert cg.exists()
    res = hull_rt("delete", cid)
    assert res.returncode == 0, res.stderr
    assert not cg.exists()
    assert not (hull_rt.root / cid).exists()
    # the orphaned hook
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd[:2] == [b"sleep", marker.encode()]:
                os.kill(int(pid), signal.SIGKILL)


def test_cgroup_mount_is_read_only_and_only_the_containers(
    runtime: Runtime, make_bundle: Any
) -> None:
    script = (
        "mkdir /sys/fs/cgroup/memory/escape 2>&1; echo rc=$?;"
        " ls /sys/fs/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
    )

    def edit(c: dict[str, Any]) -> None:
        c["linux"]["resources"]["memory"] = {"limit": 48 << 20}

    res = run(runtime, make_bundle(["sh", "-c", script], edit))
    assert "Read-only file system" in res.stdout
    assert "rc=1" in res.stdout
    # the container's own memory cgroup, not the host's root
    assert res.stdout.split()[-1] == str(48 << 20)
