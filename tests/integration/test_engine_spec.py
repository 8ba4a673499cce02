"""Specs from ``hull.engine.spec`` run by hull-runtime on the real kernel.

Each case generates a config.json for a busybox rootfs with Docker's
defaults and a few options, runs it with ``hull-runtime run`` under a private
state root, and checks from inside what the container sees: capabilities,
seccomp, masked and read-only paths, hostname, environment, user, working
directory, read-only root. The container is deleted even when a check fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hull.engine.config import ContainerConfig, HostConfig
from hull.engine.defaults import with_create_defaults
from hull.engine.spec import generate_spec
from hull.oci.image_config import ContainerConfig as ImageCC
from hull.runtime.cgroups import host_layout
from tests.conftest import hull_runtime_path, make_busybox_rootfs, requires_root, unique_id

pytestmark = [pytest.mark.root, requires_root]

IMAGE = ImageCC(
    cmd=("sh",), env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
)
DEFAULT_CAP_MASK = "00000000a80425fb"  # Docker's 14 default capabilities


class Runner:
    def __init__(self, base: Path, rootfs: Path) -> None:
        self.base = base
        self.rootfs = rootfs
        self.state = base / "state"
        self.n = 0
        files = base / "files"
        files.mkdir()
        (files / "hostname").write_text("c0ffee\n")
        (files / "hosts").write_text("127.0.0.1\tlocalhost\n")
        (files / "resolv.conf").write_text("nameserver 192.0.2.53\n")
        self.files = files

    def spec(
        self,
        cfg: dict[str, Any],
        host: dict[str, Any] | None = None,
        rootfs: Path | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        cid = unique_id("spec")
        h = with_create_defaults(HostConfig.from_json(host or {}), cgroup_v2=host_layout() == "v2")
        spec = generate_spec(
            IMAGE,
            ContainerConfig.from_json(cfg),
            h,
            container_id=cid,
            rootfs=str(rootfs or self.rootfs),
            hostname="c0ffee",
            resolv_conf=str(self.files / "resolv.conf"),
            hosts_file=str(self.files / "hosts"),
            hostname_file=str(self.files / "hostname"),
            cgroups_path=f"/hull/{cid}",
            **kw,
        )
        spec["_id"] = cid
        return spec

    def run(
        self,
        script: str,
        host: dict[str, Any] | None = None,
        *,
        cfg: dict[str, Any] | None = None,
        rootfs: Path | None = None,
    ) -> tuple[int, str]:
        spec = self.spec({"Cmd": ["sh", "-c", script], **(cfg or {})}, host, rootfs)
        cid = spec.pop("_id")
        self.n += 1
        bundle = self.base / f"bundle{self.n}"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(spec))
        rt = hull_runtime_path()
        try:
            with tempfile.TemporaryFile() as out:
                res = subprocess.run(
                    [rt, "--root", str(self.state), "run", "--bundle", str(bundle), cid],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=60,
                )
                out.seek(0)
                return res.returncode, out.read().decode()
        finally:
            subprocess.run(
                [rt, "--root", str(self.state), "delete", "--force", cid],
                capture_output=True,
                timeout=30,
            )


@pytest.fixture
def runner(busybox_rootfs: Path) -> Iterator[Runner]:
    base = Path(tempfile.mkdtemp(prefix="hull-engine-spec-"))
    try:
        yield Runner(base, busybox_rootfs)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def own_rootfs() -> Iterator[Path]:
    """A rootfs this test may change (the session's is shared)."""
    base = Path(tempfile.mkdtemp(prefix="hull-engine-rootfs-"))
    base.chmod(0o755)
    try:
        yield make_busybox_rootfs(base / "rootfs")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def lines(out: str) -> dict[str, str]:
    """``key=value`` lines printed by a script."""
    return dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln and not ln.startswith(" "))


def test_defaults(runner: Runner) -> None:
    rc, out = runner.run(
        "echo caps=$(grep CapEff /proc/self/status | cut -f2);"
        "echo bnd=$(grep CapBnd /proc/self/status | cut -f2);"
        "echo nnp=$(grep NoNewPrivs /proc/self/status | cut -f2);"
        "echo seccomp=$(grep '^Seccomp:' /proc/self/status | cut -f2);"
        "unshare -m true 2>/dev/null; echo unshare=$?;"
        "mount -t tmpfs x /tmp 2>/dev/null; echo mount=$?;"
        "echo keys=$(wc -c < /proc/keys); echo tl=$(wc -c < /proc/timer_list 2>/dev/null);"
        "echo 10 > /proc/sys/vm/swappiness 2>/dev/null; echo procsys=$?;"
        "echo hostname=$(hostname); echo etchostname=$(cat /etc/hostname);"
        "echo resolv=$(cat /etc/resolv.conf);"
        "echo path=$PATH; echo env_hostname=$HOSTNAME; echo term=${TERM:-unset};"
        "echo uid=$(id -u); echo pwd=$(pwd);"
        "echo shm=$(grep ' /dev/shm ' /proc/mounts | cut -d' ' -f4)"
    )
    assert rc == 0, out
    got = lines(out)
    assert got["caps"] == DEFAULT_CAP_MASK and got["bnd"] == DEFAULT_CAP_MASK
    assert got["nnp"] == "0" and got["seccomp"] == "2"
    assert got["unshare"] != "0" and got["mount"] != "0"
    assert got["keys"] == "0" and got["tl"] in ("0", "")  # masked: /dev/null (or absent)
    assert got["procsys"] != "0"
    assert got["hostname"] == "c0ffee" and got["etchostname"] == "c0ffee"
    assert got["resolv"] == "nameserver 192.0.2.53"
    assert got["path"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert got["env_hostname"] == "c0ffee" and got["term"] == "unset"
    assert got["uid"] == "0" and got["pwd"] == "/"
    assert "size=65536k" in got["shm"]


def test_cap_add_sys_admin_allows_mount(runner: Runner) -> None:
    rc, out = runner.run(
        "mount -t tmpfs x /tmp && echo mounted=$(grep -c ' /tmp tmpfs' /proc/mounts);"
        "unshare -m true; echo unshare=$?",
        {"CapAdd": ["SYS_ADMIN"]},
    )
    assert rc == 0, out
    got = lines(out)
    assert got["mounted"] == "1" and got["unshare"] == "0"


def test_cap_drop_and_seccomp_unconfined(runner: Runner) -> None:
    rc, out = runner.run(
        "echo caps=$(grep CapEff /proc/self/status | cut -f2);"
        "echo seccomp=$(grep '^Seccomp:' /proc/self/status | cut -f2)",
        {
            "CapDrop": ["ALL"],
            "CapAdd": ["chown"],
            "SecurityOpt": ["seccomp=unconfined", "no-new-privileges"],
        },
    )
    assert rc == 0, out
    assert lines(out) == {"caps": "0000000000000001", "seccomp": "0"}


def test_user_by_name(runner: Runner) -> None:
    rc, out = runner.run(
        "echo uid=$(id -u); echo gid=$(id -g);echo caps=$(grep CapEff /proc/self/status | cut -f2)",
        cfg={"User": "nobody"},
    )
    assert rc == 0, out
    assert lines(out) == {"uid": "65534", "gid": "65534", "caps": "0000000000000000"}


def test_working_dir_is_created(runner: Runner, own_rootfs: Path) -> None:
    rc, out = runner.run("echo pwd=$(pwd)", cfg={"WorkingDir": "/srv/app"}, rootfs=own_rootfs)
    assert rc == 0, out
    assert lines(out)["pwd"] == "/srv/app"
    assert (own_rootfs / "srv" / "app").is_dir()


def test_read_only_root_with_tmpfs(runner: Runner) -> None:
    rc, out = runner.run(
        "touch /newfile 2>/dev/null; echo root=$?;"
        "touch /run/ok; echo run=$?;"
        "echo x >> /etc/hosts 2>/dev/null; echo hosts=$?;"
        "echo opts=$(grep ' /run ' /proc/mounts | cut -d' ' -f4)",
        {"ReadonlyRootfs": True, "Tmpfs": {"/run": "rw,noexec,size=64m"}},
    )
    assert rc == 0, out
    got = lines(out)
    assert got["root"] != "0" and got["run"] == "0" and got["hosts"] != "0"
    assert "noexec" in got["opts"] and "size=65536k" in got["opts"]


def test_env_tty_off_ulimit_and_privileged_caps(runner: Runner) -> None:
    rc, out = runner.run(
        "echo a=$A; echo n=$(ulimit -n)",
        {"Ulimits": [{"Name": "nofile", "Soft": 1000, "Hard": 2000}]},
        cfg={"Env": ["A=1"]},
    )
    assert rc == 0, out
    assert lines(out) == {"a": "1", "n": "1000"}
    rc, out = runner.run(
        "echo caps=$(grep CapEff /proc/self/status | cut -f2);"
        "echo seccomp=$(grep '^Seccomp:' /proc/self/status | cut -f2);"
        "mount -t tmpfs x /tmp; echo mount=$?",
        {"Privileged": True},
    )
    assert rc == 0, out
    got = lines(out)
    host_caps = next(
        ln.split()[1]
        for ln in Path("/proc/self/status").read_text().splitlines()
        if ln.startswith("CapEff:")
    )
    assert got == {"caps": host_caps, "seccomp": "0", "mount": "0"}
