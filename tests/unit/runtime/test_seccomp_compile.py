"""compile_filter: program shape and semantics, checked by running the program.

A small classic-BPF interpreter (test-only) evaluates the compiled filter on
synthetic ``struct seccomp_data`` and the results are compared with what
runc + libseccomp give for the same profile.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest

from hull.errors import InvalidArgument
from hull.linux import syscall_table
from hull.oci.runtime_spec import Seccomp, Spec
from hull.runtime import seccomp as sc

X86_64 = syscall_table.X86_64
I386 = syscall_table.I386
X32 = syscall_table.X32

ALLOW = sc.SECCOMP_RET_ALLOW
KILL_THREAD = sc.SECCOMP_RET_KILL_THREAD
KILL_PROCESS = sc.SECCOMP_RET_KILL_PROCESS
AUDIT_X86_64 = sc.AUDIT_ARCH_X86_64
AUDIT_I386 = sc.AUDIT_ARCH_I386
AUDIT_AARCH64 = 0xC00000B7
U64 = (1 << 64) - 1


def ERRNO(n: int) -> int:
    return sc.SECCOMP_RET_ERRNO | n


# --- test-only classic BPF interpreter --------------------------------------


def decode(prog: bytes) -> list[tuple[int, int, int, int]]:
    assert len(prog) % 8 == 0 and prog
    return list(struct.iter_unpack("=HBBI", prog))


def check_shape(prog: bytes) -> list[tuple[int, int, int, int]]:
    """What the kernel's bpf_check_classic + seccomp_check_filter insist on."""
    insns = decode(prog)
    n = len(insns)
    assert n <= 4096
    assert insns[-1][0] == 0x06, "the last instruction must be a ret"
    for pc, (code, jt, jf, k) in enumerate(insns):
        if code == 0x20:
            assert k % 4 == 0 and k + 4 <= 64, f"{pc}: load outside seccomp_data"
        elif code == 0x05:
            assert pc + 1 + k < n, f"{pc}: ja out of range"
        elif code in (0x15, 0x25, 0x35, 0x45):
            assert pc + 1 + max(jt, jf) < n, f"{pc}: jump out of range"
        elif code not in (0x06, 0x54):
            raise AssertionError(f"{pc}: unexpected opcode {code:#x}")
    return insns


def run(
    insns: list[tuple[int, int, int, int]],
    nr: int,
    arch: int = AUDIT_X86_64,
    args: tuple[int, ...] = (),
) -> int:
    a6 = tuple(args) + (0,) * (6 - len(args))
    data = struct.pack("=IIQ6Q", nr & 0xFFFFFFFF, arch, 0x1234, *a6)
    pc = 0
    acc = 0
    for _ in range(len(insns) + 1):  # forward jumps only: terminates
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:
            acc = struct.unpack_from("=I", data, k)[0]
        elif code == 0x54:
            acc &= k
        elif code == 0x05:
            pc += k
        elif code == 0x15:
            pc += jt if acc == k else jf
        elif code == 0x25:
            pc += jt if acc > k else jf
        elif code == 0x35:
            pc += jt if acc >= k else jf
        elif code == 0x45:
            pc += jt if acc & k else jf
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"bad opcode {code:#x}")
    raise AssertionError("program did not return")


def profile(d: dict[str, Any]) -> Seccomp:
    spec = Spec({"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "linux": {"seccomp": d}})
    assert spec.linux.seccomp is not None
    return spec.linux.seccomp


def compiled(d: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    return check_shape(sc.compile_filter(profile(d)))


# --- architectures ----------------------------------------------------------


def test_arch_check_comes_first_and_unlisted_arch_is_killed() -> None:
    insns = compiled({"defaultAction": "SCMP_ACT_ALLOW"})
    assert insns[0] == (0x20, 0, 0, 4)  # ld seccomp_data.arch
    assert run(insns, X86_64["getpid"]) == ALLOW
    # native x86_64 only: i386 and foreign arches get the bad-arch action
    assert run(insns, I386["getpid"], AUDIT_I386) == KILL_THREAD
    assert run(insns, 0, AUDIT_AARCH64) == KILL_THREAD


def test_native_is_always_in_the_filter() -> None:
    insns = compiled(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}],
        }
    )
    assert run(insns, X86_64["mkdir"]) == ERRNO(1)
    assert run(insns, I386["mkdir"], AUDIT_I386) == ERRNO(1)
    # i386 numbers are not x86_64 numbers
    assert I386["mkdir"] != X86_64["mkdir"]
    assert run(insns, I386["mkdir"]) == ALLOW  # as an x86_64 number it is getpid


def test_x32_syscalls_killed_unless_x32_listed() -> None:
    rules = [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}]
    no_x32 = compiled({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
    assert run(no_x32, X32["getpid"]) == KILL_THREAD
    assert run(no_x32, X32["mkdir"]) == KILL_THREAD
    assert run(no_x32, 0xFFFFFFFF) == KILL_THREAD
    with_x32 = compiled(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": rules,
        }
    )
    assert run(with_x32, X32["getpid"]) == ALLOW
    assert run(with_x32, X32["mkdir"]) == ERRNO(5)
    assert run(with_x32, X86_64["mkdir"]) == ERRNO(5)
    assert run(with_x32, I386["mkdir"], AUDIT_I386) == ERRNO(5)
    assert run(with_x32, 0, AUDIT_AARCH64) == KILL_THREAD


def test_foreign_arches_accepted_unknown_refused() -> None:
    compiled({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"]})
    with pytest.raises(InvalidArgument, match="SCMP_ARCH_VAX"):
        sc.compile_filter(
            profile({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]})
        )


# --- actions ----------------------------------------------------------------

ACTIONS = [
    ("SCMP_ACT_KILL", None, KILL_THREAD),
    ("SCMP_ACT_KILL_THREAD", None, KILL_THREAD),
    ("SCMP_ACT_KILL_PROCESS", None, KILL_PROCESS),
    ("SCMP_ACT_TRAP", None, sc.SECCOMP_RET_TRAP),
    ("SCMP_ACT_ERRNO", None, ERRNO(1)),
    ("SCMP_ACT_ERRNO", 0, ERRNO(0)),
    ("SCMP_ACT_ERRNO", 123, ERRNO(123)),
    ("SCMP_ACT_ERRNO", 4095, ERRNO(4095)),
    ("SCMP_ACT_TRACE", None, sc.SECCOMP_RET_TRACE | 1),
    ("SCMP_ACT_TRACE", 7, sc.SECCOMP_RET_TRACE | 7),
    ("SCMP_ACT_LOG", None, sc.SECCOMP_RET_LOG),
    ("SCMP_ACT_NOTIFY", None, sc.SECCOMP_RET_USER_NOTIF),
]


@pytest.mark.parametrize(("action", "errno_ret", "want"), ACTIONS)
def test_rule_actions(action: str, errno_ret: int | None, want: int) -> None:
    rule: dict[str, Any] = {"names": ["mkdir", "rmdir"], "action": action}
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    insns = compiled({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]})
    assert run(insns, X86_64["mkdir"]) == want
    assert run(insns, X86_64["rmdir"]) == want
    assert run(insns, X86_64["getpid"]) == ALLOW


@pytest.mark.parametrize(
    ("action", "errno_ret", "want"), [a for a in ACTIONS if "NOTIFY" not in a[0]]
)
def test_default_actions(action: str, errno_ret: int | None, want: int) -> None:
    d: dict[str, Any] = {
        "defaultAction": action,
        "syscalls": [{"names": ["getpid", "exit_group"], "action": "SCMP_ACT_ALLOW"}],
    }
    if errno_ret is not None:
        d["defaultErrnoRet"] = errno_ret
    insns = compiled(d)
    assert run(insns, X86_64["getpid"]) == ALLOW
    assert run(insns, X86_64["mkdir"]) == want  # below exit_group: no -ENOSYS stub


def test_notify_cannot_be_default_and_errno_range() -> None:
    with pytest.raises(InvalidArgument):
        sc.compile_filter(profile({"defaultAction": "SCMP_ACT_NOTIFY"}))
    with pytest.raises(InvalidArgument, match="errnoRet"):
        sc.compile_filter(
            profile(
                {
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}],
                }
            )
        )


# --- names ------------------------------------------------------------------


def test_unknown_names_are_skipped() -> None:
    insns = compiled(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["no_such_syscall", "mkdir"], "action": "SCMP_ACT_ERRNO"},
                # tuxcall exists on x86_64 only, socketcall on i386 only
                {"names": ["tuxcall", "socketcall"], "action": "SCMP_ACT_KILL_PROCESS"},
            ],
        }
    )
    assert run(insns, X86_64["mkdir"]) == ERRNO(1)
    assert run(insns, X86_64["tuxcall"]) == KILL_PROCESS
    assert run(insns, I386["socketcall"], AUDIT_I386) == KILL_PROCESS
    assert "tuxcall" not in I386 and "socketcall" not in X86_64


def test_400_syscall_profile() -> None:
    names = list(X86_64)[:300] + list(I386)[:100] + [f"future_syscall_{i}" for i in range(20)]
    assert len(names) >= 400
    d = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
    }
    insns = compiled(d)
    assert len(insns) <= 4096
    allowed = set(names)
    for name, nr in X86_64.items():
        want = ALLOW if name in allowed else ERRNO(1)
        if name not in allowed and nr > max(X86_64[n] for n in allowed if n in X86_64):
            want = ERRNO(38)
        assert run(insns, nr) == want, name
    for name, nr in I386.items():
        if name in allowed:
            assert run(insns, nr, AUDIT_I386) == ALLOW, name
    for name, nr in X32.items():
        if name in allowed:
            assert run(insns, nr) == ALLOW, name


def test_too_long_program_is_refused() -> None:
    rules = [
        {
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": j, "value": i, "op": "SCMP_CMP_GE"} for j in range(6)],
        }
        for i in range(200)
    ]
    with pytest.raises(InvalidArgument, match="4096"):
        sc.compile_filter(profile({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}))


# --- argument comparisons ---------------------------------------------------

BOUNDARY = [
    0,
    1,
    2,
    0x7FFFFFFF,
    0xFFFFFFFE,
    0xFFFFFFFF,
    0x100000000,
    0x100000001,
    0x1FFFFFFFF,
    0x200000000,
    0x7FFFFFFFFFFFFFFF,
    0x8000000000000000,
    U64 - 1,
    U64,
]


def probes(v: int) -> list[int]:
    out = {0, U64, v, (v ^ (1 << 32)) & U64, (v ^ 1) & U64, v & 0xFFFFFFFF, v & ~0xFFFFFFFF}
    for delta in (-1, 1, -(1 << 32), 1 << 32, (1 << 32) - 1, -((1 << 32) - 1)):
        if 0 <= v + delta <= U64:
            out.add(v + delta)
    return sorted(out)


def reference(op: str, arg: int, value: int, value_two: int) -> bool:
    return {
        "SCMP_CMP_EQ": arg == value,
        "SCMP_CMP_NE": arg != value,
        "SCMP_CMP_LT": arg < value,
        "SCMP_CMP_LE": arg <= value,
        "SCMP_CMP_GT": arg > value,
        "SCMP_CMP_GE": arg >= value,
        # libseccomp masks the datum as well
        "SCMP_CMP_MASKED_EQ": (arg & value) == (value_two & value),
    }[op]


OPS = ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE"]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("index", [0, 3, 5])
def test_ordered_ops_64bit(op: str, index: int) -> None:
    nr = X86_64["personality"]
    for value in BOUNDARY:
        insns = compiled(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {
                        "names": ["personality"],
                        "action": "SCMP_ACT_ERRNO",
                        "errnoRet": 99,
                        "args": [{"index": index, "value": value, "op": op}],
                    }
                ],
            }
        )
        for arg in probes(value):
            args = [0xDEADBEEF] * 6
            args[index] = arg
            want = ERRNO(99) if reference(op, arg, value, 0) else ALLOW
            assert run(insns, nr, args=tuple(args)) == want, (op, hex(value), hex(arg))


MASKS = [
    (0xFF, 0x0F),
    (0xFFFFFFFF00000000, 0x100000000),
    (0x7E020000, 0),  # Docker's clone namespace-flags mask
    (U64, U64),
    (0x8000000000000001, 0x8000000000000000),
    (0x0F, 0x10),  # valueTwo bits outside the mask are ignored (libseccomp)
    (0, 0x7FFFFFFFFFFFFFFF),  # matches everything
]


@pytest.mark.parametrize(("mask", "want_value"), MASKS)
def test_masked_eq_64bit(mask: int, want_value: int) -> None:
    insns = compiled(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "syscalls": [
                {
                    "names": ["clone"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [
                        {
                            "index": 1,
                            "value": mask,
                            "valueTwo": want_value,
                            "op": "SCMP_CMP_MASKED_EQ",
                        }
                    ],
                }
            ],
        }
    )
    for arg in probes(want_value) + probes(mask) + [mask ^ U64, 0x10000000, 0x20000]:
        want = ALLOW if (arg & mask) == (want_value & mask) else ERRNO(38)
        assert run(insns, X86_64["clone"], args=(0, arg)) == want, (hex(mask), hex(arg))


@pytest.mark.parametrize("op", [*OPS, "SCMP_CMP_MASKED_EQ"])
def test_i386_compares_low_word_only(op: str) -> None:
    for value in [0, 1, 0xFFFFFFFF, 0x100000005, U64]:
        insns = compiled(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86"],
                "syscalls": [
                    {
                        "names": ["personality"],
                        "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 0, "value": value, "valueTwo": 4, "op": op}],
                    }
                ],
            }
        )
        v32 = value & 0xFFFFFFFF
        for arg in [0, 1, 3, 4, 5, 0xFFFFFFFE, 0xFFFFFFFF, v32, (v32 + 1) & 0xFFFFFFFF]:
            want = ERRNO(1) if reference(op, arg, v32, 4) else ALLOW
            got = run(insns, I386["personality"], AUDIT_I386, (arg,))
            assert got == want, (op, hex(value), hex(arg))


def test_args_in_one_rule_are_anded() -> None:
    insns = compiled(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {
                    "names": ["mmap"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 13,
                    "args": [
                        {"index": 2, "value": 4, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"},
                        {"index": 3, "value": 0x20, "op": "SCMP_CMP_EQ"},
                        {"index": 5, "value": 100, "op": "SCMP_CMP_LT"},
                    ],
                }
            ],
        }
    )
    nr = X86_64["mmap"]
    assert run(insns, nr, args=(0, 0, 7, 0x20, 0, 99)) == ERRNO(13)
    assert run(insns, nr, args=(0, 0, 3, 0x20, 0, 99)) == ALLOW
    assert run(insns, nr, args=(0, 0, 7, 0x21, 0, 99)) == ALLOW
    assert run(insns, nr, args=(0, 0, 7, 0x20, 0, 100)) == ALLOW
    assert run(insns, nr, args=(0, 0, 7, 0x20 | (1 << 32), 0, 99)) == ALLOW


def test_rules_for_one_syscall_are_ored() -> None:
    # Docker's personality rules: each value allowed, everything else EPERM
    values = [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]
    insns = compiled(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}],
                }
                for v in values
            ],
        }
    )
    nr = X86_64["personality"]
    for v in values:
        assert run(insns, nr, args=(v,)) == ALLOW
    for v in [1, 7, 9, 0x20001, 0x1FFFFFFFF, 0xFFFFFFFF00000000, U64]:
        assert run(insns, nr, args=(v,)) == ERRNO(1)


def test_same_index_twice_splits_into_ored_rules() -> None:
    # runc: conditions sharing an argument index become separate (ORed) rules
    insns = compiled(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {
                    "names": ["kill"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [
                        {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"},
                        {"index": 1, "value": 15, "op": "SCMP_CMP_EQ"},
                    ],
                }
            ],
        }
    )
    nr = X86_64["kill"]
    assert run(insns, nr, args=(1, 9)) == ERRNO(1)
    assert run(insns, nr, args=(1, 15)) == ERRNO(1)
    assert run(insns, nr, args=(1, 2)) == ALLOW


def test_unconditional_rule_wins_and_first_conditional_match_decides() -> None:
    insns = compiled(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {
                    "names": ["read"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 2,
                    "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}],
                },
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4},
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
                {
                    "names": ["write"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 6,
                    "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_GE"}],
                },
                {
                    "names": ["write"],
                    "action": "SCMP_ACT_ERRNO",
                    "errnoRet": 7,
                    "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_GE"}],
                },
            ],
        }
    )
    assert run(insns, X86_64["read"], args=(3,)) == ERRNO(4)
    assert run(insns, X86_64["read"], args=(0,)) == ERRNO(4)
    assert run(insns, X86_64["write"], args=(1,)) == ALLOW
    assert run(insns, X86_64["write"], args=(4,)) == ERRNO(6)
    assert run(insns, X86_64["write"], args=(9,)) == ERRNO(6)


def test_rule_equal_to_default_is_dropped() -> None:
    # With the ALLOW rule kept, an unconditional rule would allow every mkdir.
    insns = compiled(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW"},
                {
                    "names": ["mkdir"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}],
                },
            ],
        }
    )
    assert run(insns, X86_64["mkdir"], args=(0, 0o777)) == ERRNO(1)
    assert run(insns, X86_64["mkdir"], args=(0, 0o755)) == ALLOW


def test_long_conditional_block_uses_ja() -> None:
    # 80 rules * 5 instructions: the block of one syscall exceeds 255.
    values = list(range(1000, 1080))
    insns = compiled(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {
                    "names": ["ioctl"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 1, "value": v, "op": "SCMP_CMP_EQ"}],
                }
                for v in values
            ]
            + [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}],
        }
    )
    nr = X86_64["ioctl"]
    for v in values:
        assert run(insns, nr, args=(0, v)) == ALLOW
    assert run(insns, nr, args=(0, 999)) == ERRNO(1)
    assert run(insns, nr, args=(0, 1000 | (1 << 40))) == ERRNO(1)
    assert run(insns, X86_64["getpid"]) == ALLOW
    assert run(insns, X86_64["read"]) == ERRNO(1)


# --- runc's -ENOSYS stub ----------------------------------------------------


def test_enosys_for_syscalls_newer_than_the_profile() -> None:
    d: dict[str, Any] = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "write", "openat"], "action": "SCMP_ACT_ALLOW"}],
    }
    insns = compiled(d)
    last = X86_64["openat"]
    assert run(insns, X86_64["read"]) == ALLOW
    assert run(insns, X86_64["getpid"]) == ERRNO(1)  # older than openat: EPERM
    assert run(insns, last + 1) == ERRNO(38)
    assert run(insns, X86_64["clone3"]) == ERRNO(38)
    # not when the default already says ENOSYS or is permissive
    assert run(compiled({**d, "defaultErrnoRet": 38}), last + 1) == ERRNO(38)
    assert run(compiled({**d, "defaultErrnoRet": 38}), X86_64["getpid"]) == ERRNO(38)
    for permissive in ("SCMP_ACT_LOG", "SCMP_ACT_TRACE"):
        got = run(compiled({**d, "defaultAction": permissive}), last + 1)
        assert got == sc._action(permissive, None, "")
    assert run(compiled({**d, "defaultAction": "SCMP_ACT_KILL"}), last + 1) == ERRNO(38)


# --- flags ------------------------------------------------------------------


def test_flags() -> None:
    base: dict[str, Any] = {"defaultAction": "SCMP_ACT_ALLOW"}
    assert sc.filter_flags(profile(base)) == 0
    flags = [
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]
    assert sc.filter_flags(profile({**base, "flags": flags})) == 1 | 2 | 4
    notify = {
        **base,
        "flags": flags,
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
    }
    assert sc.filter_flags(profile(notify)) == 1 | 2 | 4 | 8 | 16 | 32
    with pytest.raises(InvalidArgument, match="SECCOMP_FILTER_FLAG_BOGUS"):
        sc.filter_flags(profile({**base, "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}))


# --- Docker's default profile (moby profiles/seccomp/default.json, resolved for
# amd64 with Docker's default capabilities) ------------------------------------

_DOCKER_ALLOWED_TEXT = """
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown
chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime
clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir
fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64
fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv
futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid
geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init
inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat
listen listmount listxattr listxattrat llistxattr _llseek lremovexattr lseek lsetxattr
lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore
mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr
mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap mseal msgctl msgget msgrcv msgsnd msync munlock
munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2
pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv
recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat
rename renameat renameat2 restart_syscall riscv_hwprobe rmdir rseq rt_sigaction
rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack signalfd
signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64
statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid
write writev
process_vm_readv process_vm_writev ptrace arch_prctl modify_ldt chroot
"""
DOCKER_ALLOWED = _DOCKER_ALLOWED_TEXT.split()


def docker_default() -> dict[str, Any]:
    """Docker's default profile as the engine hands it to the runtime."""

    def arg_rule(name: str, index: int, value: int, op: str) -> dict[str, Any]:
        arg = {"index": index, "value": value, "op": op}
        return {"names": [name], "action": "SCMP_ACT_ALLOW", "args": [arg]}

    rules: list[dict[str, Any]] = [{"names": DOCKER_ALLOWED, "action": "SCMP_ACT_ALLOW"}]
    rules += [
        arg_rule("socket", 0, 38, "SCMP_CMP_LT"),
        arg_rule("socket", 0, 39, "SCMP_CMP_EQ"),
        arg_rule("socket", 0, 40, "SCMP_CMP_GT"),
    ]
    rules += [
        arg_rule("personality", 0, v, "SCMP_CMP_EQ") for v in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF)
    ]
    clone = arg_rule("clone", 0, 0x7E020000, "SCMP_CMP_MASKED_EQ")
    clone["args"][0]["valueTwo"] = 0
    rules.append(clone)
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }


def test_docker_default_profile() -> None:
    insns = compiled(docker_default())
    assert len(insns) < 2000
    for name in ("read", "openat", "execve", "getpid", "fchmodat2", "mseal"):
        assert run(insns, X86_64[name]) == ALLOW, name
    assert run(insns, I386["socketcall"], AUDIT_I386) == ALLOW
    assert run(insns, X32["execve"]) == ALLOW
    for name in ("mount", "unshare", "setns", "bpf", "kexec_load", "open_by_handle_at"):
        assert run(insns, X86_64[name]) == ERRNO(1), name
    assert run(insns, X86_64["clone3"]) == ERRNO(38)
    clone = X86_64["clone"]
    assert run(insns, clone, args=(0x3D0F00,)) == ALLOW  # glibc fork/pthread flags
    assert run(insns, clone, args=(0x20000000,)) == ERRNO(1)  # CLONE_NEWPID
    assert run(insns, clone, args=(0x10000000 | (1 << 33),)) == ERRNO(1)
    sock = X86_64["socket"]
    assert run(insns, sock, args=(2,)) == ALLOW  # AF_INET
    assert run(insns, sock, args=(40,)) == ERRNO(1)  # AF_VSOCK
    assert run(insns, sock, args=(41,)) == ALLOW
    assert run(insns, X86_64["listns"]) == ERRNO(38)  # newer than the profile
    assert run(insns, 0, AUDIT_AARCH64) == KILL_THREAD


def test_docker_default_compiles_fast() -> None:
    seccomp = profile(docker_default())
    sc.compile_filter(seccomp)
    best = min(_timed(seccomp) for _ in range(30))
    # The budget on the start path is 2 ms; allow slack for loaded CI machines.
    assert best < 0.01, f"compiling took {best * 1e3:.2f} ms"


def _timed(seccomp: Seccomp) -> float:
    t = time.perf_counter()
    sc.compile_filter(seccomp)
    return time.perf_counter() - t
