"""Compile OCI ``linux.seccomp`` into a classic-BPF seccomp filter and load it.

No libseccomp: the program is generated here, with the semantics runc gets
from libseccomp, and handed to ``hull.linux.seccomp_load``.

Program layout (every conditional jump is short by construction; anything
far uses ``ja``, whose offset is 32 bits, so no trampolines are needed)::

    ld  [arch]                            seccomp_data.arch
    jeq AUDIT_ARCH_X86_64, 0, 1 ; ja x86_64   one pair per audit arch
    jeq AUDIT_ARCH_I386,   0, 1 ; ja i386
    ret BAD_ARCH
  x86_64:
    ld  [nr]
    jge 0x40000000, 0, 1 ; ret BAD_ARCH    (x32 listed: ja x32 instead)
    jgt <last nr>, 0, 1  ; ret ERRNO(ENOSYS)   runc's -ENOSYS stub, see below
    jeq nr1 ... jeq nrK ; ret ACTION       unconditional rules, grouped by action
    jeq nr, 0, len ; <rules> ; ret DEFAULT conditional rules, one block per nr
    ret DEFAULT
  i386:  / x32:   the same for their numbers

Semantics, as runc + libseccomp have them:

* Architectures: the native one (x86_64) is always in the filter; listed
  ones are added. A syscall of an architecture not in the filter gets the
  bad-arch action, libseccomp's default ``SCMP_ACT_KILL`` (KILL_THREAD), and
  so does an x32 syscall (nr with ``__X32_SYSCALL_BIT``) when x32 is not
  listed. Other architectures (aarch64, ...) are accepted and left out: an
  x86 kernel never reports them, so their section would be dead code.
* Names unknown to :mod:`hull.linux.syscall_table` for an architecture are
  skipped (profiles written for newer kernels keep working).
* A rule whose action equals the default action is dropped (runc does so,
  libseccomp would refuse it).
* Per syscall: an unconditional rule wins over conditional ones; among
  unconditional rules the first wins (libseccomp keeps the existing one).
  Conditional rules are ORed and tried in profile order, the first that
  matches decides; a syscall none of whose rules match gets the default.
* ``SCMP_CMP_MASKED_EQ`` is ``(arg & value) == (valueTwo & value)``: libseccomp
  masks the datum too, so bits of valueTwo outside the mask are ignored.
* Conditions of one rule are ANDed. As runc does, a rule naming the same
  argument index twice is split into one rule per condition (ORed).
* Comparisons are unsigned 64-bit on x86_64 (high word, then low word of
  ``seccomp_data.args[i]``). On i386 and x32, which libseccomp treats as
  32-bit ABIs, only the low word is compared, against the value truncated to
  32 bits, as libseccomp does.
* ``SCMP_ACT_ERRNO`` and ``SCMP_ACT_TRACE`` carry ``errnoRet`` (EPERM when
  absent); the default action ``defaultErrnoRet``.
* runc's -ENOSYS stub: unless the default action is permissive (ALLOW, LOG,
  TRACE) or ``defaultErrnoRet`` is ENOSYS, a syscall numbered above the
  highest one the profile names (per architecture) returns ENOSYS instead of
  the default action, so that libc falls back from syscalls newer than the
  profile (clone3, fchmodat2, ...) rather than failing with EPERM.

Import cost: ``struct`` and hull modules only (this is on the start path).
"""

from __future__ import annotations

import struct

from hull import linux
from hull.errors import InvalidArgument
from hull.linux import syscall_table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Seccomp, SeccompArg

# classic BPF opcodes (linux/filter.h, linux/bpf_common.h)
BPF_LD_W_ABS = 0x20  # A = *(u32 *)(seccomp_data + k)
BPF_ALU_AND_K = 0x54  # A &= k
BPF_JMP_JA = 0x05  # pc += k
BPF_JMP_JEQ_K = 0x15  # pc += (A == k) ? jt : jf
BPF_JMP_JGT_K = 0x25
BPF_JMP_JGE_K = 0x35
BPF_RET_K = 0x06  # return k
BPF_MAXINSNS = 4096

# seccomp return values (linux/seccomp.h)
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_KILL_THREAD = 0x00000000
SECCOMP_RET_TRAP = 0x00030000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_TRACE = 0x7FF00000
SECCOMP_RET_LOG = 0x7FFC0000
SECCOMP_RET_ALLOW = 0x7FFF0000

SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 16
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 32

# struct seccomp_data offsets
OFF_NR = 0
OFF_ARCH = 4
OFF_ARGS = 16

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
X32_SYSCALL_BIT = 0x40000000

EPERM = 1
ENOSYS = 38

# libseccomp's default bad-architecture action (SCMP_ACT_KILL).
BAD_ARCH_ACTION = SECCOMP_RET_KILL_THREAD

_ACTIONS = {
    "SCMP_ACT_KILL": SECCOMP_RET_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": SECCOMP_RET_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": SECCOMP_RET_KILL_PROCESS,
    "SCMP_ACT_TRAP": SECCOMP_RET_TRAP,
    "SCMP_ACT_ERRNO": SECCOMP_RET_ERRNO,
    "SCMP_ACT_TRACE": SECCOMP_RET_TRACE,
    "SCMP_ACT_ALLOW": SECCOMP_RET_ALLOW,
    "SCMP_ACT_LOG": SECCOMP_RET_LOG,
    "SCMP_ACT_NOTIFY": SECCOMP_RET_USER_NOTIF,
}

_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": linux.SECCOMP_FILTER_FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": linux.SECCOMP_FILTER_FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": linux.SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

# OCI / libseccomp architecture names -> our ABI key (None: not an x86 ABI).
_ARCHES: dict[str, str | None] = {
    "SCMP_ARCH_NATIVE": "x86_64",
    "SCMP_ARCH_X86_64": "x86_64",
    "SCMP_ARCH_X86": "i386",
    "SCMP_ARCH_X32": "x32",
}
for _name in ("ARM", "AARCH64", "LOONGARCH64", "M68K", "MIPS", "MIPS64", "MIPS64N32", "MIPSEL",
              "MIPSEL64", "MIPSEL64N32", "PPC", "PPC64", "PPC64LE", "S390", "S390X", "PARISC",
              "PARISC64", "RISCV64", "SH", "SHEB"):  # fmt: skip
    _ARCHES["SCMP_ARCH_" + _name] = None
del _name

_TABLES = {"x86_64": syscall_table.X86_64, "i386": syscall_table.I386, "x32": syscall_table.X32}

# Symbolic jump targets inside one condition: T = condition holds (go on to the
# next condition or the rule's return), F = it does not (go to the next rule).
_T = -1
_F = -2

_U64 = 0xFFFFFFFFFFFFFFFF
_INSN = struct.Struct("=HBBI")

if TYPE_CHECKING:
    Insn = tuple[int, int, int, int]  # code, jt, jf, k
    Cond = tuple[int, str, int, int]  # index, op, value, valueTwo
    Rule = tuple[tuple[Cond, ...], int]  # ANDed conditions, action


def _action(name: str, errno_ret: int | None, where: str) -> int:
    """The SECCOMP_RET_* value of an OCI action with its errno data."""
    try:
        ret = _ACTIONS[name]
    except KeyError:
        raise InvalidArgument(f"seccomp: {where}: unknown action {name!r}") from None
    if ret in (SECCOMP_RET_ERRNO, SECCOMP_RET_TRACE):
        data = EPERM if errno_ret is None else errno_ret
        if not 0 <= data <= 0xFFFF:
            raise InvalidArgument(f"seccomp: {where}: errnoRet {data} is out of range 0-65535")
        ret |= data
    return ret


def _conditions(args: list[SeccompArg], where: str) -> list[tuple[Cond, ...]]:
    """The alternatives (ORed) of ANDed conditions that one OCI rule stands for."""
    conds: list[Cond] = []
    seen = 0
    split = False
    for a in args:
        if a.value > _U64 or a.value_two > _U64:
            raise InvalidArgument(f"seccomp: {where}: argument value does not fit in 64 bits")
        bit = 1 << a.index
        if seen & bit:
            split = True
        seen |= bit
        conds.append((a.index, a.op, a.value, a.value_two))
    if split:
        # runc: two conditions on one argument -> one rule per condition.
        return [(c,) for c in conds]
    return [tuple(conds)]


def _cond64(index: int, op: str, value: int, value_two: int) -> list[Insn]:
    """A 64-bit comparison of seccomp_data.args[index] (high word first)."""
    lo_off = OFF_ARGS + 8 * index
    hi_off = lo_off + 4
    ld_hi = (BPF_LD_W_ABS, 0, 0, hi_off)
    ld_lo = (BPF_LD_W_ABS, 0, 0, lo_off)
    if op == "SCMP_CMP_MASKED_EQ":
        # (arg & value) == valueTwo, with valueTwo masked too, as libseccomp does
        m_hi, m_lo = value >> 32, value & 0xFFFFFFFF
        datum = value_two & value
        d_hi, d_lo = datum >> 32, datum & 0xFFFFFFFF
        return [
            ld_hi,
            (BPF_ALU_AND_K, 0, 0, m_hi),
            (BPF_JMP_JEQ_K, 0, _F, d_hi),
            ld_lo,
            (BPF_ALU_AND_K, 0, 0, m_lo),
            (BPF_JMP_JEQ_K, _T, _F, d_lo),
        ]
    v_hi, v_lo = value >> 32, value & 0xFFFFFFFF
    if op == "SCMP_CMP_EQ":
        return [ld_hi, (BPF_JMP_JEQ_K, 0, _F, v_hi), ld_lo, (BPF_JMP_JEQ_K, _T, _F, v_lo)]
    if op == "SCMP_CMP_NE":
        return [ld_hi, (BPF_JMP_JEQ_K, 0, _T, v_hi), ld_lo, (BPF_JMP_JEQ_K, _F, _T, v_lo)]
    # Ordered comparisons: decided by the high word unless it is equal.
    if op == "SCMP_CMP_GT" or op == "SCMP_CMP_GE":
        above, below = _T, _F
    elif op == "SCMP_CMP_LT" or op == "SCMP_CMP_LE":
        above, below = _F, _T
    else:
        raise InvalidArgument(f"seccomp: unknown operator {op!r}")
    # GT and LE (= not GT) test lo > v; GE and LT (= not GE) test lo >= v.
    lo_jump = BPF_JMP_JGT_K if op == "SCMP_CMP_GT" or op == "SCMP_CMP_LE" else BPF_JMP_JGE_K
    return [
        ld_hi,
        (BPF_JMP_JGT_K, above, 0, v_hi),
        (BPF_JMP_JEQ_K, 0, below, v_hi),
        ld_lo,
        (lo_jump, above, below, v_lo),
    ]


def _cond32(index: int, op: str, value: int, value_two: int) -> list[Insn]:
    """A 32-bit comparison (i386, x32): the low word against the truncated value."""
    ld = (BPF_LD_W_ABS, 0, 0, OFF_ARGS + 8 * index)
    v = value & 0xFFFFFFFF
    if op == "SCMP_CMP_MASKED_EQ":
        return [ld, (BPF_ALU_AND_K, 0, 0, v), (BPF_JMP_JEQ_K, _T, _F, value_two & v)]
    if op == "SCMP_CMP_EQ":
        return [ld, (BPF_JMP_JEQ_K, _T, _F, v)]
    if op == "SCMP_CMP_NE":
        return [ld, (BPF_JMP_JEQ_K, _F, _T, v)]
    if op == "SCMP_CMP_GT":
        return [ld, (BPF_JMP_JGT_K, _T, _F, v)]
    if op == "SCMP_CMP_GE":
        return [ld, (BPF_JMP_JGE_K, _T, _F, v)]
    if op == "SCMP_CMP_LT":
        return [ld, (BPF_JMP_JGE_K, _F, _T, v)]
    if op == "SCMP_CMP_LE":
        return [ld, (BPF_JMP_JGT_K, _F, _T, v)]
    raise InvalidArgument(f"seccomp: unknown operator {op!r}")


def _rule(conds: tuple[Cond, ...], action: int, wide: bool) -> list[Insn]:
    """Code that returns ``action`` if all conditions hold, else falls off its end."""
    gen = _cond64 if wide else _cond32
    parts = [gen(*c) for c in conds]
    end = sum(len(p) for p in parts) + 1  # the instruction after the rule's ret
    out: list[Insn] = []
    for part in parts:
        nxt = len(out) + len(part)  # the next condition, or the ret
        for code, jt, jf, k in part:
            pc = len(out) + 1
            if jt < 0:
                jt = (nxt if jt == _T else end) - pc
            if jf < 0:
                jf = (nxt if jf == _T else end) - pc
            out.append((code, jt, jf, k))
    out.append((BPF_RET_K, 0, 0, action))
    return out


def _body(
    abi: str,
    rules: list[tuple[list[str], int, list[tuple[Cond, ...]] | None]],
    default: int,
) -> list[Insn]:
    """Per-syscall dispatch for one ABI, ending in ``ret default``."""
    table = _TABLES[abi]
    uncond: dict[int, int] = {}  # nr -> action
    cond: dict[int, list[Rule]] = {}  # nr -> rules in profile order
    for names, action, alts in rules:
        for name in names:
            nr = table.get(name)
            if nr is None:
                continue
            if alts is None:
                uncond.setdefault(nr, action)
            else:
                cond.setdefault(nr, []).extend((c, action) for c in alts)

    out: list[Insn] = []
    groups: dict[int, list[int]] = {}
    for nr, action in uncond.items():
        groups.setdefault(action, []).append(nr)
    for action, nrs in groups.items():
        # jeq nr_i jumps to the shared ret at most 255 instructions ahead.
        for start in range(0, len(nrs), 255):
            chunk = nrs[start : start + 255]
            last = len(chunk) - 1
            for i, nr in enumerate(chunk):
                out.append((BPF_JMP_JEQ_K, last - i, 1 if i == last else 0, nr))
            out.append((BPF_RET_K, 0, 0, action))

    wide = abi == "x86_64"  # libseccomp: i386 and x32 compare 32 bits
    ret_default = (BPF_RET_K, 0, 0, default)
    for nr, nr_rules in cond.items():
        if nr in uncond:
            continue
        block: list[Insn] = []
        for conds, action in nr_rules:
            block += _rule(conds, action, wide)
        block.append(ret_default)
        if len(block) <= 255:
            out.append((BPF_JMP_JEQ_K, 0, len(block), nr))
        else:
            out.append((BPF_JMP_JEQ_K, 1, 0, nr))
            out.append((BPF_JMP_JA, 0, 0, len(block)))
        out += block
    out.append(ret_default)
    return out


def _abis(architectures: list[str]) -> list[str]:
    """The x86 ABIs in the filter: native x86_64 first, then the listed ones."""
    abis = ["x86_64"]
    for name in architectures:
        try:
            abi = _ARCHES[name]
        except KeyError:
            raise InvalidArgument(f"seccomp: unknown architecture {name!r}") from None
        if abi is not None and abi not in abis:
            abis.append(abi)
    return abis


def _wants_enosys_stub(seccomp: Seccomp) -> bool:
    if seccomp.default_errno_ret == ENOSYS:
        return False
    return seccomp.default_action not in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE")


def compile_filter(seccomp: Seccomp) -> bytes:
    """The packed ``struct sock_filter`` array implementing ``seccomp``."""
    if seccomp.default_action == "SCMP_ACT_NOTIFY":
        raise InvalidArgument("seccomp: SCMP_ACT_NOTIFY cannot be the default action")
    default = _action(seccomp.default_action, seccomp.default_errno_ret, "defaultAction")
    abis = _abis(seccomp.architectures)

    rules: list[tuple[list[str], int, list[tuple[Cond, ...]] | None]] = []
    for i, sc in enumerate(seccomp.syscalls):
        where = f"syscalls[{i}]"
        action = _action(sc.action, sc.errno_ret, where)
        if action == default:
            continue  # redundant: runc skips it, libseccomp would refuse it
        rules.append((sc.names, action, _conditions(sc.args, where) if sc.args else None))

    stub = _wants_enosys_stub(seccomp)
    ret_bad_arch = (BPF_RET_K, 0, 0, BAD_ARCH_ACTION)
    ld_nr = (BPF_LD_W_ABS, 0, 0, OFF_NR)
    sections: dict[str, list[Insn]] = {}
    for abi in abis:
        sec: list[Insn] = [ld_nr]
        if abi == "x86_64":
            # x32 shares AUDIT_ARCH_X86_64 and is told apart by the nr bit; the
            # jump to the x32 section (if any) is patched in below.
            sec.append((BPF_JMP_JGE_K, 0, 1, X32_SYSCALL_BIT))
            sec.append(ret_bad_arch)
        if stub:
            table = _TABLES[abi]
            last = 0
            for sc in seccomp.syscalls:
                for name in sc.names:
                    nr = table.get(name)
                    if nr is not None and nr > last:
                        last = nr
            if last:
                sec.append((BPF_JMP_JGT_K, 0, 1, last))
                sec.append((BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS))
        sec += _body(abi, rules, default)
        sections[abi] = sec

    dispatch = [abi for abi in abis if abi != "x32"]
    head_len = 1 + 2 * len(dispatch) + 1
    starts: dict[str, int] = {}
    pos = head_len
    for abi in abis:
        starts[abi] = pos
        pos += len(sections[abi])
    total = pos
    if total > BPF_MAXINSNS:
        raise InvalidArgument(
            f"seccomp: the profile compiles to {total} BPF instructions, "
            f"more than the kernel's limit of {BPF_MAXINSNS}"
        )

    prog: list[Insn] = [(BPF_LD_W_ABS, 0, 0, OFF_ARCH)]
    for abi in dispatch:
        audit = AUDIT_ARCH_X86_64 if abi == "x86_64" else AUDIT_ARCH_I386
        prog.append((BPF_JMP_JEQ_K, 0, 1, audit))
        prog.append((BPF_JMP_JA, 0, 0, starts[abi] - (len(prog) + 1)))
    prog.append(ret_bad_arch)
    if "x32" in sections:
        # x86_64 section: replace "ret BAD_ARCH" for x32 numbers by "ja x32".
        sec = sections["x86_64"]
        sec[2] = (BPF_JMP_JA, 0, 0, starts["x32"] - (starts["x86_64"] + 3))
    for abi in abis:
        prog += sections[abi]

    pack = _INSN.pack
    return b"".join([pack(*insn) for insn in prog])


def filter_flags(seccomp: Seccomp) -> int:
    """The seccomp(2) flags for ``seccomp``: its ``flags`` plus NEW_LISTENER for notify."""
    flags = 0
    for name in seccomp.flags:
        try:
            flags |= _FLAGS[name]
        except KeyError:
            raise InvalidArgument(f"seccomp: unsupported flag {name!r}") from None
    if any(sc.action == "SCMP_ACT_NOTIFY" for sc in seccomp.syscalls):
        flags |= linux.SECCOMP_FILTER_FLAG_NEW_LISTENER
        if flags & linux.SECCOMP_FILTER_FLAG_TSYNC:
            # TSYNC and NEW_LISTENER are exclusive unless TSYNC_ESRCH is set.
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH
    else:
        # Only meaningful with a listener; the kernel refuses it otherwise.
        flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    return flags


def load(seccomp: Seccomp) -> int:
    """Compile and install the filter on the calling thread (no_new_privs or
    CAP_SYS_ADMIN needed); returns the notify listener fd, or 0 without one."""
    return linux.seccomp_load(compile_filter(seccomp), filter_flags(seccomp))


__all__ = ["compile_filter", "filter_flags", "load"]
