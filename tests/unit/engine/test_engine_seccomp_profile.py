"""Docker's default seccomp profile: filtered by capabilities, and compiled by our BPF compiler."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hull.engine import seccomp_profile as sp
from hull.engine.spec import DEFAULT_CAPABILITIES
from hull.errors import InvalidArgument
from hull.oci.runtime_spec import Seccomp, Spec
from hull.runtime import seccomp as compiler

AMD64 = ("amd64", "SCMP_ARCH_X86_64")


def allowed(profile: dict[str, Any]) -> set[str]:
    """Names allowed unconditionally."""
    return {
        n
        for r in profile["syscalls"]
        if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args")
        for n in r["names"]
    }


def rules_for(profile: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r for r in profile["syscalls"] if name in r["names"]]


def as_oci(profile: dict[str, Any]) -> Seccomp:
    spec = Spec({"ociVersion": "1.0.2", "root": {"path": "r"}, "linux": {"seccomp": profile}})
    assert spec.linux.seccomp is not None
    return spec.linux.seccomp


def test_default_profile_shape() -> None:
    p = sp.profile_for(DEFAULT_CAPABILITIES)
    assert p["defaultAction"] == "SCMP_ACT_ERRNO" and p["defaultErrnoRet"] == 1
    assert p["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = allowed(p)
    for n in (
        "read",
        "write",
        "openat",
        "execve",
        "futex",
        "clock_gettime",
        "arch_prctl",
        "modify_ldt",
        "chroot",
        "ptrace",
    ):
        assert n in names, n
    # CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_MODULE ... are not in the default set
    for n in (
        "mount",
        "umount2",
        "unshare",
        "setns",
        "reboot",
        "init_module",
        "acct",
        "settimeofday",
        "kexec_load",
        "io_uring_setup",
        "bpf",
        "perf_event_open",
        "open_by_handle_at",
        "iopl",
        "keyctl",
        "add_key",
    ):
        assert n not in names, n
    # socket: every family but AF_ALG (38) and AF_VSOCK (40)
    sock = [a for r in rules_for(p, "socket") for a in r["args"]]
    assert {(a["op"], a["value"]) for a in sock} == {
        ("SCMP_CMP_LT", 38),
        ("SCMP_CMP_EQ", 39),
        ("SCMP_CMP_GT", 40),
    }
    pers = {r["args"][0]["value"] for r in rules_for(p, "personality")}
    assert pers == {0, 8, 0x20000, 0x20008, 0xFFFFFFFF}
    # clone only without namespace flags, clone3 -> ENOSYS
    (clone,) = rules_for(p, "clone")
    assert clone["args"] == [
        {"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    ]
    (clone3,) = rules_for(p, "clone3")
    assert clone3["action"] == "SCMP_ACT_ERRNO" and clone3["errnoRet"] == 38


def test_capabilities_open_their_syscalls() -> None:
    base = allowed(sp.profile_for(DEFAULT_CAPABILITIES))
    with_admin = sp.profile_for([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    names = allowed(with_admin)
    assert {"mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname"} <= names
    # and the clone restriction and clone3's ENOSYS are gone
    assert all(not r.get("args") for r in rules_for(with_admin, "clone"))
    assert all(r["action"] == "SCMP_ACT_ALLOW" for r in rules_for(with_admin, "clone3"))
    for cap, name in (
        ("CAP_SYS_BOOT", "reboot"),
        ("CAP_SYS_MODULE", "finit_module"),
        ("CAP_SYS_PACCT", "acct"),
        ("CAP_SYS_PTRACE", "process_madvise"),
        ("CAP_SYS_RAWIO", "iopl"),
        ("CAP_SYS_TIME", "clock_settime"),
        ("CAP_SYS_TTY_CONFIG", "vhangup"),
        ("CAP_SYSLOG", "syslog"),
        ("CAP_SYS_NICE", "mbind"),
        ("CAP_BPF", "bpf"),
        ("CAP_PERFMON", "perf_event_open"),
        ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    ):
        assert name not in base
        assert name in allowed(sp.profile_for([cap])), cap
    # chroot is gated on CAP_SYS_CHROOT, which the default set has
    assert "chroot" not in allowed(sp.profile_for(["CAP_CHOWN"]))


def test_arch_and_kernel_conditions() -> None:
    arm = sp.setup(sp.default_profile(), [], machine=("arm64", "SCMP_ARCH_AARCH64"))
    assert arm is not None and arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "arch_prctl" not in allowed(arm) and "cacheflush" in allowed(arm)
    old = sp.setup(sp.default_profile(), [], machine=AMD64, kernel_release="4.4.0-generic")
    assert old is not None and "ptrace" not in allowed(old)
    new = sp.setup(sp.default_profile(), [], machine=AMD64, kernel_release="6.1.0-13-amd64")
    assert new is not None and "ptrace" in allowed(new)


@pytest.mark.parametrize(
    "caps",
    [
        [],
        list(DEFAULT_CAPABILITIES),
        [*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"],
        [*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_BPF", "CAP_PERFMON"],
    ],
)
def test_compiles_within_the_kernel_limit(caps: list[str]) -> None:
    prog = compiler.compile_filter(as_oci(sp.profile_for(caps)))
    assert len(prog) % 8 == 0
    assert len(prog) // 8 <= compiler.BPF_MAXINSNS


def test_load_profile_in_docker_format() -> None:
    custom = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_BPF"]}},
            {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["amd64"]}},
        ],
    }
    p = sp.load_profile(json.dumps(custom), DEFAULT_CAPABILITIES)
    assert p == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
    }
    compiler.compile_filter(as_oci(p))
    assert sp.load_profile("{}", []) is None  # no default action, no rules: disabled
    with pytest.raises(InvalidArgument, match="Decoding seccomp profile failed"):
        sp.load_profile("{not json", [])
    both = {**custom, "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}
    with pytest.raises(InvalidArgument, match="use either 'architectures' or 'archMap'"):
        sp.load_profile(json.dumps(both), [])
    with pytest.raises(InvalidArgument, match="'name' and 'names'"):
        sp.setup(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}],
            },
            [],
        )
