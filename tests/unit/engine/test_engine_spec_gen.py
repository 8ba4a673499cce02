"""generate_spec and its parts, checked against Docker's semantics without running anything."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from hull.engine import spec as sg
from hull.engine.config import ContainerConfig, HostConfig
from hull.engine.defaults import with_create_defaults
from hull.errors import FailedPrecondition, InvalidArgument
from hull.oci.image_config import ContainerConfig as ImageCC
from hull.oci.runtime_spec import Spec


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    etc = tmp_path / "rootfs" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "# a comment\n"
        "daemon:x:1:1::/:/bin/false\n"
        "alice:x:1000:1000::/home/alice:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (etc / "group").write_text(
        "root:x:0:\nwheel:x:10:alice,bob\nalice:x:1000:\naudio:x:29:alice\nnogroup:x:65534:\n"
    )
    return tmp_path / "rootfs"


def gen(
    rootfs: Path,
    cfg: dict[str, Any] | None = None,
    host: dict[str, Any] | None = None,
    image: ImageCC | None = None,
    **kw: Any,
) -> dict[str, Any]:
    c = ContainerConfig.from_json({"Cmd": ["true"], **(cfg or {})})
    h = with_create_defaults(HostConfig.from_json(host or {}), cgroup_v2=False)
    kw.setdefault("hostname", "c0ffee")
    out = sg.generate_spec(image, c, h, container_id="c0ffee", rootfs=str(rootfs), **kw)
    Spec(out)  # the runtime accepts it
    return out


# -- command and environment ------------------------------------------------------------


def test_command_args() -> None:
    assert sg.command_args(ContainerConfig(entrypoint=("/a", "b"), cmd=("c",))) == ["/a", "b", "c"]
    assert sg.command_args(ContainerConfig(cmd=("sh",))) == ["sh"]
    assert sg.command_args(ContainerConfig(entrypoint=("",), cmd=("x",))) == ["x"]
    with pytest.raises(InvalidArgument, match="No command specified"):
        sg.command_args(ContainerConfig(entrypoint=(), cmd=()))


def test_no_command_from_request_or_image(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="No command specified"):
        gen(rootfs, {"Cmd": None}, image=ImageCC())
    # an Entrypoint given resets the image's Cmd
    out = gen(rootfs, {"Cmd": None, "Entrypoint": ["/bin/echo"]}, image=ImageCC(cmd=("x",)))
    assert out["process"]["args"] == ["/bin/echo"]


def test_env() -> None:
    assert sg.container_env(None, "h", False) == [f"PATH={sg.DEFAULT_PATH}", "HOSTNAME=h"]
    env = sg.container_env(["PATH=/bin", "A=1", "HOSTNAME=x", "A=2", "TERM"], "h", True)
    # replaced in place; appended ones are not deduplicated (as Docker); bare name unsets
    assert env == ["PATH=/bin", "HOSTNAME=x", "A=1", "A=2"]
    assert sg.container_env(["B=1"], "h", True) == [
        f"PATH={sg.DEFAULT_PATH}",
        "HOSTNAME=h",
        "TERM=xterm",
        "B=1",
    ]


def test_env_and_cwd_in_spec(rootfs: Path) -> None:
    image = ImageCC(env=("PATH=/opt/bin:/bin", "LANG=C"), working_dir="/srv", cmd=("sh",))
    out = gen(rootfs, {"Cmd": None, "Env": ["A=1"], "Tty": True}, image=image)
    p = out["process"]
    assert p["env"] == ["PATH=/opt/bin:/bin", "HOSTNAME=c0ffee", "TERM=xterm", "A=1", "LANG=C"]
    assert p["cwd"] == "/srv" and p["terminal"] is True and p["args"] == ["sh"]
    assert "consoleSize" not in p
    assert gen(rootfs)["process"]["cwd"] == "/"


# -- users -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", (0, 0, [])),
        ("root", (0, 0, [])),
        ("alice", (1000, 1000, [10, 29])),
        ("1000", (1000, 1000, [10, 29])),
        ("nobody", (65534, 65534, [])),
        ("alice:audio", (1000, 29, [])),
        ("alice:0", (1000, 0, [])),
        ("1000:1000", (1000, 1000, [])),
        ("4242", (4242, 0, [])),
        ("4242:4343", (4242, 4343, [])),
        ("nobody:nogroup", (65534, 65534, [])),
    ],
)
def test_resolve_user(rootfs: Path, user: str, expected: tuple[int, int, list[int]]) -> None:
    assert sg.resolve_user(str(rootfs), user) == expected


def test_resolve_user_errors_and_group_add(rootfs: Path) -> None:
    with pytest.raises(
        InvalidArgument, match="unable to find user xyz: no matching entries in passwd file"
    ):
        sg.resolve_user(str(rootfs), "xyz")
    with pytest.raises(
        InvalidArgument, match="unable to find group nope: no matching entries in group file"
    ):
        sg.resolve_user(str(rootfs), "alice:nope")
    assert sg.resolve_user(str(rootfs), "nobody", ["audio", "777"]) == (65534, 65534, [29, 777])
    with pytest.raises(InvalidArgument, match="unable to find group ghosts"):
        sg.resolve_user(str(rootfs), "", ["ghosts"])
    # no /etc/passwd at all: numbers still work, names do not
    empty = rootfs.parent / "empty"
    empty.mkdir()
    assert sg.resolve_user(str(empty), "12:34") == (12, 34, [])
    with pytest.raises(InvalidArgument, match="unable to find user root"):
        sg.resolve_user(str(empty), "root")


def test_user_in_spec_and_capabilities_of_non_root(rootfs: Path) -> None:
    out = gen(rootfs, {"User": "alice"}, {"GroupAdd": ["audio"]})
    assert out["process"]["user"] == {
        "uid": 1000,
        "gid": 1000,
        "additionalGids": [1000, 10, 29, 29],
    }
    caps = out["process"]["capabilities"]
    assert caps == {"bounding": list(sg.DEFAULT_CAPABILITIES)}  # no effective/permitted


# -- capabilities, privileged ----------------------------------------------------------------


def caps_of(**host: Any) -> list[str]:
    return sg.container_capabilities(HostConfig.from_json(host))


def test_capabilities() -> None:
    assert caps_of() == list(sg.DEFAULT_CAPABILITIES)
    assert caps_of(CapAdd=["sys_admin"]) == [*sg.DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"]
    assert "CAP_NET_RAW" not in caps_of(CapDrop=["net_raw"])
    assert caps_of(CapDrop=["ALL"], CapAdd=["chown", "CAP_KILL"]) == ["CAP_CHOWN", "CAP_KILL"]
    everything = sg.all_capabilities()
    assert "CAP_SYS_ADMIN" in everything
    assert caps_of(CapAdd=["ALL"], CapDrop=["MKNOD"]) == [c for c in everything if c != "CAP_MKNOD"]
    assert caps_of(Privileged=True, CapDrop=["ALL"]) == everything
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_NOPE"'):
        caps_of(CapAdd=["nope"])


def test_default_spec_security(rootfs: Path) -> None:
    out = gen(rootfs)
    caps = out["process"]["capabilities"]
    assert (
        caps["bounding"] == caps["effective"] == caps["permitted"] == list(sg.DEFAULT_CAPABILITIES)
    )
    assert "ambient" not in caps and "inheritable" not in caps
    assert out["process"]["noNewPrivileges"] is False
    linux = out["linux"]
    assert "/proc/kcore" in linux["maskedPaths"] and "/sys/firmware" in linux["maskedPaths"]
    assert linux["readonlyPaths"] == [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    rules = linux["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in rules
    sys_mount = next(m for m in out["mounts"] if m["destination"] == "/sys")
    assert "ro" in sys_mount["options"]


def test_privileged(rootfs: Path) -> None:
    out = gen(rootfs, host={"Privileged": True})
    linux = out["linux"]
    assert "seccomp" not in linux
    assert linux["maskedPaths"] == [] and linux["readonlyPaths"] == []
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert any(d["path"] == "/dev/null" for d in linux.get("devices", []))
    assert out["process"]["capabilities"]["effective"] == sg.all_capabilities()
    for m in out["mounts"]:
        if m["destination"] in ("/sys", "/sys/fs/cgroup"):
            assert "ro" not in m["options"]


def test_security_opts(rootfs: Path) -> None:
    assert sg.parse_security_opts(["no-new-privileges"]).no_new_privileges
    assert sg.parse_security_opts(["no-new-privileges:true"]).no_new_privileges
    assert not sg.parse_security_opts(["no-new-privileges=false"]).no_new_privileges
    assert sg.parse_security_opts(["seccomp=unconfined"]).seccomp == "unconfined"
    assert sg.parse_security_opts(["seccomp=builtin"]).seccomp is None
    for bad in ("bogus", "no-new-privileges=maybe", "what=ever"):
        with pytest.raises(InvalidArgument, match="invalid --security-opt"):
            sg.parse_security_opts([bad])
    out = gen(rootfs, host={"SecurityOpt": ["no-new-privileges", "seccomp=unconfined"]})
    assert out["process"]["noNewPrivileges"] is True and "seccomp" not in out["linux"]
    custom = (
        '{"defaultAction": "SCMP_ACT_ALLOW",'
        ' "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}'
    )
    out = gen(rootfs, host={"SecurityOpt": [f"seccomp={custom}"]})
    assert out["linux"]["seccomp"]["syscalls"] == [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    out = gen(rootfs, host={"SecurityOpt": ["systempaths=unconfined"]})
    assert out["linux"]["maskedPaths"] == [] and out["linux"]["readonlyPaths"] == []
    out = gen(rootfs, host={"MaskedPaths": ["/proc/x"], "ReadonlyPaths": []})
    assert out["linux"]["maskedPaths"] == ["/proc/x"] and out["linux"]["readonlyPaths"] == []


# -- namespaces and sysctls -----------------------------------------------------------------


def ns_of(out: dict[str, Any]) -> dict[str, str | None]:
    return {n["type"]: n.get("path") for n in out["linux"]["namespaces"]}


def test_namespaces(rootfs: Path) -> None:
    base = ns_of(gen(rootfs))
    assert {"mount", "network", "uts", "pid", "ipc"} <= set(base) and "cgroup" not in base
    assert "user" not in base
    v2 = sg.generate_spec(
        None,
        ContainerConfig(cmd=("x",)),
        HostConfig(),
        container_id="i",
        rootfs=str(rootfs),
        hostname="h",
        cgroup_v2=True,
    )
    assert "cgroup" in ns_of(v2)
    assert "cgroup" in ns_of(gen(rootfs, host={"CgroupnsMode": "private"}))
    out = gen(
        rootfs,
        host={"NetworkMode": "host", "PidMode": "host", "IpcMode": "host", "UTSMode": "host"},
    )
    assert set(ns_of(out)) - {"time"} == {"mount"}
    assert "hostname" not in out

    def resolve(kind: str, target: str) -> str:
        return f"/proc/4242/ns/{kind}-{target}"

    out = gen(
        rootfs,
        host={
            "PidMode": "container:abc",
            "IpcMode": "container:abc",
            "NetworkMode": "container:abc",
        },
        resolve_ns=resolve,
    )
    ns = ns_of(out)
    assert ns["pid"] == "/proc/4242/ns/pid-abc" and ns["ipc"] == "/proc/4242/ns/ipc-abc"
    assert ns["network"] == "/proc/4242/ns/network-abc"
    with pytest.raises(FailedPrecondition):
        gen(rootfs, host={"PidMode": "container:abc"})
    assert ns_of(gen(rootfs, host={"NetworkMode": "none"}))["network"] is None
    assert ns_of(gen(rootfs, netns_path="/run/netns/x"))["network"] == "/run/netns/x"
    mapped = gen(rootfs, userns=sg.IDMappings(((0, 100000, 65536),), ((0, 100000, 65536),)))
    assert "user" in ns_of(mapped)
    assert mapped["linux"]["uidMappings"] == [{"containerID": 0, "hostID": 100000, "size": 65536}]


def test_sysctls(rootfs: Path) -> None:
    out = gen(
        rootfs,
        host={
            "Sysctls": {
                "net.ipv4.ip_forward": "1",
                "kernel.shmmax": "1",
                "fs.mqueue.msg_max": "20",
                "kernel.domainname": "x",
            }
        },
    )
    sysctl = out["linux"]["sysctl"]
    assert sysctl["net.ipv4.ip_forward"] == "1" and sysctl["kernel.shmmax"] == "1"
    if os.path.exists("/proc/sys/net/ipv4/ping_group_range"):
        assert sysctl["net.ipv4.ping_group_range"] == "0 2147483647"
    for host, msg in (
        (
            {"Sysctls": {"net.ipv4.ip_forward": "1"}, "NetworkMode": "host"},
            "not allowed in host network",
        ),
        ({"Sysctls": {"kernel.shmmax": "1"}, "IpcMode": "host"}, "hosts ipc namespace"),
        ({"Sysctls": {"vm.swappiness": "1"}}, "not in a separate kernel namespace"),
        ({"Sysctls": {"kernel.hostname": "x"}}, "conflicts with the OCI"),
    ):
        with pytest.raises(InvalidArgument, match=msg):
            gen(rootfs, host=host)
    assert "net.ipv4.ping_group_range" not in gen(rootfs, host={"NetworkMode": "host"})[
        "linux"
    ].get("sysctl", {})


# -- resources, devices, rlimits ---------------------------------------------------------------


def test_resources() -> None:
    r = sg.resources(HostConfig(nano_cpus=500_000_000))
    assert r["cpu"] == {"period": 100000, "quota": 50000}
    assert sg.resources(HostConfig(nano_cpus=1_500_000_000))["cpu"]["quota"] == 150000
    r = sg.resources(
        HostConfig(
            memory=64 << 20,
            memory_swap=128 << 20,
            memory_reservation=32 << 20,
            memory_swappiness=10,
            oom_kill_disable=True,
        )
    )
    assert r["memory"] == {
        "limit": 64 << 20,
        "swap": 128 << 20,
        "reservation": 32 << 20,
        "swappiness": 10,
        "disableOOMKiller": True,
    }
    assert "swap" not in sg.resources(HostConfig(memory=64 << 20, memory_swap=-1))["memory"]
    r = sg.resources(
        HostConfig(
            cpu_shares=512,
            cpu_period=50000,
            cpu_quota=25000,
            cpuset_cpus="0",
            cpuset_mems="0",
            pids_limit=100,
            blkio_weight=300,
        )
    )
    assert r["cpu"] == {"shares": 512, "cpus": "0", "mems": "0", "period": 50000, "quota": 25000}
    assert r["pids"] == {"limit": 100} and r["blockIO"] == {"weight": 300}
    assert sg.resources(HostConfig(pids_limit=0))["pids"] == {"limit": -1}
    assert sg.resources(HostConfig(pids_limit=-1))["pids"] == {"limit": -1}
    assert sg.resources(HostConfig()) == {}
    r = sg.resources(
        HostConfig.from_json(
            {
                "BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1024}],
                "BlkioWeightDevice": [{"Path": "/dev/zero", "Weight": 20}],
            }
        )
    )
    assert r["blockIO"]["throttleReadBpsDevice"] == [{"major": 1, "minor": 3, "rate": 1024}]
    assert r["blockIO"]["weightDevice"] == [{"major": 1, "minor": 5, "weight": 20}]
    with pytest.raises(InvalidArgument, match="invalid device path"):
        sg.resources(
            HostConfig.from_json({"BlkioDeviceReadBps": [{"Path": "/nonexistent", "Rate": 1}]})
        )


def test_devices_and_rules(rootfs: Path) -> None:
    out = gen(
        rootfs,
        host={
            "Devices": [
                {
                    "PathOnHost": "/dev/null",
                    "PathInContainer": "/dev/mynull",
                    "CgroupPermissions": "rw",
                }
            ],
            "DeviceCgroupRules": ["c 42:* rmw", "b *:* m"],
        },
    )
    (dev,) = out["linux"]["devices"]
    assert (dev["path"], dev["type"], dev["major"], dev["minor"]) == ("/dev/mynull", "c", 1, 3)
    rules = out["linux"]["resources"]["devices"]
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"} in rules
    assert rules[-2:] == [
        {"allow": True, "type": "c", "major": 42, "access": "rmw"},
        {"allow": True, "type": "b", "access": "m"},
    ]
    with pytest.raises(InvalidArgument, match="invalid device cgroup rule format"):
        sg.parse_device_cgroup_rule("x 1:2 rwm")
    with pytest.raises(InvalidArgument, match="not a device node"):
        sg.devices_from_path("/etc/hostname", "", "rwm")


def test_rlimits_oom_score(rootfs: Path) -> None:
    out = gen(
        rootfs,
        host={"Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}], "OomScoreAdj": 500},
    )
    assert out["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]
    assert out["process"]["oomScoreAdj"] == 500
    assert "rlimits" not in gen(rootfs)["process"]


# -- mounts ----------------------------------------------------------------------------------------


def test_mounts(rootfs: Path) -> None:
    out = gen(
        rootfs,
        host={"Tmpfs": {"/run": "rw,noexec,size=64m", "/run/lock": "exec"}, "ShmSize": 1 << 20},
        resolv_conf="/h/resolv.conf",
        hosts_file="/h/hosts",
        hostname_file="/h/hostname",
        mounts=[
            sg.ResolvedMount("/data/sub", "/v/sub"),
            sg.ResolvedMount("/data", "/v/data", readonly=True),
            sg.ResolvedMount("/scratch", "", type="tmpfs", options=("size=1m",)),
        ],
    )
    dests = [m["destination"] for m in out["mounts"]]
    assert dests[:7] == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/sys",
        "/sys/fs/cgroup",
        "/dev/mqueue",
        "/dev/shm",
    ]
    # then the rest, parents before children
    assert dests.index("/data") < dests.index("/data/sub") and dests.index("/run") < dests.index(
        "/run/lock"
    )
    by = {m["destination"]: m for m in out["mounts"]}
    assert by["/dev/shm"]["options"] == [
        "nosuid",
        "noexec",
        "nodev",
        "mode=1777",
        f"size={1 << 20}",
    ]
    assert by["/etc/resolv.conf"] == {
        "destination": "/etc/resolv.conf",
        "type": "bind",
        "source": "/h/resolv.conf",
        "options": ["rbind", "rprivate"],
    }
    assert by["/data"]["options"] == ["rbind", "ro", "rprivate"]
    assert by["/run"]["options"] == ["nosuid", "nodev", "rprivate", "rw", "noexec", "size=64m"]
    assert by["/run/lock"]["options"] == ["nosuid", "nodev", "rprivate", "exec"]
    assert by["/scratch"]["options"] == ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]
    assert by["/dev/pts"]["options"][-1] == "gid=5"
    assert out["root"] == {"path": str(rootfs), "readonly": False}


def test_mounts_read_only_shm_path_ipc_none(rootfs: Path) -> None:
    out = gen(rootfs, host={"ReadonlyRootfs": True}, resolv_conf="/h/r", shm_path="/h/shm")
    assert out["root"]["readonly"] is True
    by = {m["destination"]: m for m in out["mounts"]}
    assert "ro" in by["/etc/resolv.conf"]["options"] and "ro" in by["/sys/fs/cgroup"]["options"]
    assert "ro" not in by["/proc"]["options"] and "ro" not in by["/dev"]["options"]
    assert by["/dev/shm"]["type"] == "bind" and by["/dev/shm"]["source"] == "/h/shm"
    out = gen(rootfs, host={"IpcMode": "none"})
    assert "/dev/shm" not in [m["destination"] for m in out["mounts"]]
    # a user mount replaces the default at that place
    out = gen(rootfs, mounts=[sg.ResolvedMount("/dev/shm", "/mine")])
    assert [m["source"] for m in out["mounts"] if m["destination"] == "/dev/shm"] == ["/mine"]


def test_merge_tmpfs_options() -> None:
    assert sg.merge_tmpfs_options(["noexec", "size=1m", "exec", "size=2m"]) == ["exec", "size=2m"]
    with pytest.raises(InvalidArgument, match="invalid tmpfs option"):
        sg.merge_tmpfs_options(["bogus"])


def test_init(rootfs: Path) -> None:
    out = gen(rootfs, {"Cmd": ["sleep", "1"]}, {"Init": True}, init_path="/usr/libexec/hull-init")
    assert out["process"]["args"] == ["/sbin/docker-init", "--", "sleep", "1"]
    init = next(m for m in out["mounts"] if m["destination"] == "/sbin/docker-init")
    assert init == {
        "destination": "/sbin/docker-init",
        "type": "bind",
        "source": "/usr/libexec/hull-init",
        "options": ["bind", "ro"],
    }
    with pytest.raises(FailedPrecondition):
        gen(rootfs, host={"Init": True})
    # not in another pid namespace: no init
    out = gen(rootfs, host={"Init": True, "PidMode": "host"}, init_path="/x")
    assert out["process"]["args"] == ["true"]


def test_hostname_domainname_cgroups_path(rootfs: Path) -> None:
    out = gen(rootfs, {"Domainname": "example.org"})
    assert out["hostname"] == "c0ffee" and out["domainname"] == "example.org"
    assert out["linux"]["cgroupsPath"] == "/hull/c0ffee"
    assert gen(rootfs, host={"CgroupParent": "/mine"})["linux"]["cgroupsPath"] == "/mine/c0ffee"
    assert gen(rootfs, cgroups_path="/x/y")["linux"]["cgroupsPath"] == "/x/y"
    assert "annotations" not in out
