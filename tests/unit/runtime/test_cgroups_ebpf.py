"""The eBPF device program builder, run in a small interpreter of its bytecode.

The interpreter knows only the instructions the builder may emit and checks
what the kernel's verifier would (forward jumps inside the program, r0 set
before exit). Its answers are compared with the v1 kernel's rules applied to
the replayed state (``match_exception`` / ``match_exception_partial`` of
``security/device_cgroup.c``), for every type, access and a spread of numbers.
"""

from __future__ import annotations

import itertools

import pytest

from hull.errors import InvalidArgument
from hull.oci.runtime_spec import DeviceRule, Resources, _Reader
from hull.runtime.cgroups.devices import DeviceState, target_state
from hull.runtime.cgroups.ebpf import ACCESS_BITS, DEV_TYPES, compile_state, device_program

MASK64 = (1 << 64) - 1


def rules(*items: dict[str, object]) -> list[DeviceRule]:
    return Resources(_Reader({"devices": list(items)}, "linux.resources")).devices


def run(program: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    """Execute ``program`` on one bpf_cgroup_dev_ctx; returns r0."""
    assert len(program) % 8 == 0
    ctx = [access << 16 | dev_type, major, minor]
    regs: list[int | None] = [None] * 11
    regs[1] = -1  # the ctx pointer: only loads from it are legal
    pc = 0
    n = len(program) // 8
    for _ in range(10_000):
        assert 0 <= pc < n, f"pc {pc} fell off the program"
        raw = program[8 * pc : 8 * pc + 8]
        code, regbyte = raw[0], raw[1]
        dst, src = regbyte & 0xF, regbyte >> 4
        off = int.from_bytes(raw[2:4], "little", signed=True)
        imm = int.from_bytes(raw[4:8], "little", signed=True)
        pc += 1

        def val(r: int) -> int:
            v = regs[r]
            assert v is not None and v >= 0, f"r{r} read before it was set"
            return v

        if code == 0x61:
            assert regs[src] == -1 and off in (0, 4, 8)
            regs[dst] = ctx[off // 4]
        elif code == 0x54:
            regs[dst] = val(dst) & imm & 0xFFFFFFFF
        elif code == 0x74:
            regs[dst] = (val(dst) & 0xFFFFFFFF) >> imm
        elif code == 0xB4:
            regs[dst] = imm & 0xFFFFFFFF
        elif code == 0xBC:
            regs[dst] = val(src) & 0xFFFFFFFF
        elif code in (0x15, 0x55, 0x5D, 0x45):
            assert off >= 0, "backward jump"
            left = val(dst)
            right = val(src) if code == 0x5D else imm & MASK64  # imm sign-extends
            taken = {
                0x15: left == right,
                0x55: left != right,
                0x5D: left != right,
                0x45: left & right != 0,
            }[code]
            if taken:
                pc += off
        elif code == 0x95:
            return val(0)
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
    raise AssertionError("no exit")


def v1_allows(state: DeviceState, t: str, major: int, minor: int, access: int) -> bool:
    """The v1 kernel's check of one access against a cgroup's default and exceptions."""

    def bits(letters: str) -> int:
        return sum(ACCESS_BITS[c] for c in letters)

    hits = [
        bits(letters)
        for (kt, kmaj, kmin), letters in state.rules.items()
        if kt == t and kmaj in (-1, major) and kmin in (-1, minor)
    ]
    if state.default_allow:  # denied by any exception that shares a letter
        return not any(access & b for b in hits)
    return any(access & ~b == 0 for b in hits)  # one exception must grant all


NUMBERS = (0, 1, 3, 5, 136, 259, (1 << 31) + 5, (1 << 32) - 1)
RULE_SETS = {
    "whitelist": rules(
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
    ),
    "runtime defaults": rules(
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "access": "m"},
        {"allow": True, "type": "b", "access": "m"},
        {"allow": True, "type": "c", "major": 136, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
        {"allow": True, "type": "b", "minor": 5, "access": "w"},
    ),
    "blacklist": rules(
        {"allow": True, "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
        {"allow": False, "type": "b", "access": "rm"},
        {"allow": False, "type": "c", "major": 259, "access": "rwm"},
    ),
    "later overrides earlier": rules(
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "w"},
    ),
    "a resets": rules(
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "a", "access": "r"},
        {"allow": False, "type": "b", "major": 5, "minor": 1, "access": "rwm"},
    ),
    "big numbers": rules(
        {"allow": True, "type": "c", "major": (1 << 31) + 5, "minor": (1 << 32) - 1},
        {"allow": True, "type": "b", "major": 3, "minor": (1 << 31) + 5, "access": "rw"},
    ),
    "empty": rules(),
}


@pytest.mark.parametrize("name", list(RULE_SETS))
def test_program_agrees_with_v1_kernel(name: str) -> None:
    state = target_state(RULE_SETS[name])
    program = compile_state(state)
    assert program == device_program(RULE_SETS[name])
    checked = 0
    for (t, code), major, minor, access in itertools.product(
        DEV_TYPES.items(), NUMBERS, NUMBERS, range(8)
    ):
        got = run(program, code, access, major, minor)
        assert got in (0, 1)
        want = v1_allows(state, t, major, minor, access)
        assert bool(got) == want, f"{name}: {t} {major}:{minor} access={access:03b}"
        checked += 1
    assert checked == 2 * len(NUMBERS) ** 2 * 8


def test_spot_checks() -> None:
    p = device_program(RULE_SETS["later overrides earlier"])
    c, r, w, m = DEV_TYPES["c"], ACCESS_BITS["r"], ACCESS_BITS["w"], ACCESS_BITS["m"]
    assert run(p, c, r, 1, 3) == 1
    assert run(p, c, r | m, 1, 3) == 1
    assert run(p, c, w, 1, 3) == 0  # the later deny w wins over the earlier allow rwm
    assert run(p, c, r | w, 1, 3) == 0
    assert run(p, c, r | w, 1, 5) == 1  # two allow rules merge
    assert run(p, c, m, 1, 5) == 0
    assert run(p, c, r, 1, 4) == 0  # default deny
    assert run(p, DEV_TYPES["b"], r, 1, 3) == 0
    black = device_program(RULE_SETS["blacklist"])
    assert run(black, c, r, 1, 3) == 1
    assert run(black, c, r | w, 1, 3) == 0  # any denied letter denies, as v1
    assert run(black, c, 0, 1, 3) == 1  # access(F_OK) asks no letter
    assert run(black, DEV_TYPES["b"], w, 8, 0) == 1
    assert run(black, DEV_TYPES["b"], w | m, 8, 0) == 0


def test_deny_all_is_tiny() -> None:
    # loads of the context, then "r0 = 0; exit"
    assert len(device_program(rules({"allow": False, "access": "rwm"}))) == 8 * 8
    allow_all = device_program(rules({"allow": True, "access": "rwm"}))
    assert run(allow_all, DEV_TYPES["b"], 7, 8, 0) == 1


def _bad(**change: object) -> list[DeviceRule]:
    rs = rules({"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"})
    for k, v in change.items():
        setattr(rs[0], k, v)
    return rs


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "x"}, r"rule 'x 1:3 rw' has an unknown device type 'x' \(want a, b or c\)"),
        ({"type": "x", "allow": False}, "unknown device type 'x'"),
        ({"major": 1 << 32}, "major 4294967296 out of range"),
        ({"minor": 1 << 40}, "minor 1099511627776 out of range"),
        ({"access": "rwq"}, "invalid access 'rwq'"),
        ({"access": ""}, "grants no access"),
    ],
)
def test_bad_rules_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as ei:
        device_program(_bad(**change))
    assert str(ei.value).startswith("linux.resources.devices: ")


def test_hole_in_wildcard_is_refused_as_on_v1() -> None:
    with pytest.raises(InvalidArgument, match="cannot punch a hole"):
        device_program(
            rules(
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "access": "rwm"},
                {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"},
            )
        )
