"""Device rules on cgroup v2: an eBPF program attached to the container's cgroup.

cgroup v2 has no ``devices.*`` files. The kernel runs every
``BPF_PROG_TYPE_CGROUP_DEVICE`` program attached to a cgroup (and to its
ancestors) when a member process opens or mknods a device node, with
``struct bpf_cgroup_dev_ctx {u32 access_type; u32 major; u32 minor}`` as
context (``access_type``: node type in the low 16 bits, block 1 / char 2;
asked access in the high 16 bits, mknod 1 / read 2 / write 4), and refuses
with EPERM when any program returns 0.

The OCI rules are first replayed with the v1 kernel's semantics
(:func:`~hull.runtime.cgroups.devices.target_state`, the emulation runc's
``devicefilter.go`` runs too). What is left is a default verdict and
exceptions that all carry the opposite verdict, so the order of the blocks
below cannot change the answer, and a later rule overrides an earlier one
exactly as on v1 (rules that would punch a hole in a wildcard exception
are refused there). The program::

    r2 = type; r3 = access; r4 = major; r5 = minor
    for each exception (type b or c; -1 major/minor match any number):
        if r2 != type                                       goto next
        allow exception: if r3 asks a letter not granted    goto next
        deny exception:  if r3 asks none of the letters     goto next
        if r4 != major                                      goto next
        if r5 != minor                                      goto next
        return the exception's verdict
    return the default verdict

An allow exception needs every asked letter (as v1 and runc). A deny
exception matches when any asked letter is denied, as the v1 kernel does;
runc's program needs all of them, which lets an O_RDWR open through a
``deny w`` rule.

Attaching follows runc: look up the programs attached to the cgroup itself;
with exactly one, swap it atomically (``BPF_F_REPLACE``); otherwise attach
beside them (``BPF_F_ALLOW_MULTI``, all programs must allow) and then
detach the old ones, so the cgroup is never left without a filter.

Imported only when a v2 cgroup has device rules to apply (~0.3 ms with
``devices.py``); no imports beyond ``errno``, ``hull.errors`` and ``hull.linux``.
"""

from __future__ import annotations

import errno

from hull.errors import FailedPrecondition, Internal, InvalidArgument
from hull.linux import bpf, setrlimit
from hull.linux import fastos as os
from hull.runtime.cgroups.devices import WILDCARD, DeviceState, rule_string, target_state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from hull.oci.runtime_spec import DeviceRule

    # one instruction before its jump offset is known: (code, dst, src, off, imm)
    _Insn = tuple[int, int, int, int | None, int]

# bpf(2) commands, program and attach types, flags (linux/bpf.h)
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
BPF_F_REPLACE = 4

# bpf_cgroup_dev_ctx.access_type
DEV_TYPES = {"b": 1, "c": 2}
ACCESS_BITS = {"m": 1, "r": 2, "w": 4}
_RWM = 7

# Instruction opcodes (class | op | source), linux/bpf_common.h and bpf.h
_LDX_W = 0x61  # dst = *(u32 *)(src + off)
_AND32_K = 0x54  # dst &= imm (32-bit)
_RSH32_K = 0x74  # dst >>= imm (32-bit)
_MOV32_K = 0xB4  # dst = imm (32-bit, upper half cleared)
_MOV32_X = 0xBC  # dst = src (32-bit)
_JEQ_K = 0x15  # if dst == imm goto pc+off
_JNE_K = 0x55  # if dst != imm goto pc+off
_JNE_X = 0x5D  # if dst != src goto pc+off
_JSET_K = 0x45  # if dst & imm goto pc+off
_EXIT = 0x95
_NEXT = None  # placeholder offset: "goto the next block"

R0, R1, R2, R3, R4, R5 = range(6)

_LICENSE = b"Apache-2.0\0"
_NAME = b"hull_devices"
_LOG_SIZE = 1 << 16
_U32_MAX = 0xFFFFFFFF
_RLIMIT_MEMLOCK = 8
_RLIM_INFINITY = 0xFFFFFFFFFFFFFFFF

# Every attr is the size of this kernel's union bpf_attr: the kernel writes
# some answers back at fixed offsets (query.revision, log_true_size) whatever
# size it was given, and a newer kernel accepts a shorter, zero-padded union.
_ATTR_SIZE = 144


def _encode(code: int, dst: int, src: int, off: int, imm: int) -> bytes:
    """struct bpf_insn: u8 code, u8 dst:4 src:4, s16 off, s32 imm (little-endian)."""
    return (
        bytes((code, dst | src << 4))
        + off.to_bytes(2, "little", signed=True)
        + imm.to_bytes(4, "little", signed=True)
    )


def _number_check(reg: int, value: int) -> list[_Insn]:
    """``if reg != value goto next``; reg holds a zero-extended u32."""
    if value <= 0x7FFFFFFF:
        return [(_JNE_K, reg, 0, _NEXT, value)]
    # A jump's imm is sign-extended to 64 bits: compare through a register.
    return [(_MOV32_K, R1, 0, 0, value - (1 << 32)), (_JNE_X, reg, R1, _NEXT, 0)]


def _check_key(
    key: tuple[str, int, int], access: str, *, any_type: bool = False
) -> tuple[int, int, int, int]:
    """(type code, major, minor, access bits) of one rule, validated.

    An exception of the replayed state is b or c; ``any_type`` admits the
    ``a`` of an OCI rule as well (type code 0: it never reaches the program).
    """
    t, major, minor = key
    what = f"linux.resources.devices: rule {rule_string(key, access)!r}"
    if t not in DEV_TYPES and not (any_type and t == "a"):
        raise InvalidArgument(f"{what} has an unknown device type {t!r} (want a, b or c)")
    for name, n in (("major", major), ("minor", minor)):
        if n != WILDCARD and not 0 <= n <= _U32_MAX:
            raise InvalidArgument(f"{what} has {name} {n} out of range (0..{_U32_MAX}, or -1)")
    bits = 0
    for c in access:
        if c not in ACCESS_BITS:
            raise InvalidArgument(f"{what} has an invalid access {access!r} (letters of rwm)")
        bits |= ACCESS_BITS[c]
    if not bits:
        raise InvalidArgument(f"{what} grants no access (letters of rwm)")
    return DEV_TYPES.get(t, 0), major, minor, bits


def compile_state(state: DeviceState) -> bytes:
    """The program enforcing ``state``: its exceptions, then its default verdict."""
    default = 1 if state.default_allow else 0
    insns: list[bytes] = [
        _encode(_LDX_W, R2, R1, 0, 0),
        _encode(_AND32_K, R2, 0, 0, 0xFFFF),
        _encode(_LDX_W, R3, R1, 0, 0),
        _encode(_RSH32_K, R3, 0, 0, 16),
        _encode(_LDX_W, R4, R1, 4, 0),
        _encode(_LDX_W, R5, R1, 8, 0),
    ]
    for key, access in state.rules.items():
        dev_type, major, minor, bits = _check_key(key, access)
        block: list[_Insn] = [(_JNE_K, R2, 0, _NEXT, dev_type)]
        if default == 0:
            if bits != _RWM:  # an asked letter outside the granted ones
                block.append((_JSET_K, R3, 0, _NEXT, 0xFFFF & ~bits))
        else:  # none of the asked letters is denied
            block += [
                (_MOV32_X, R1, R3, 0, 0),
                (_AND32_K, R1, 0, 0, bits),
                (_JEQ_K, R1, 0, _NEXT, 0),
            ]
        if major != WILDCARD:
            block += _number_check(R4, major)
        if minor != WILDCARD:
            block += _number_check(R5, minor)
        block += [(_MOV32_K, R0, 0, 0, 1 - default), (_EXIT, 0, 0, 0, 0)]
        for i, (code, dst, src, off, imm) in enumerate(block):
            # pc + 1 + off lands on the first instruction after the block
            insns.append(_encode(code, dst, src, len(block) - i - 1 if off is None else off, imm))
    insns += [_encode(_MOV32_K, R0, 0, 0, default), _encode(_EXIT, 0, 0, 0, 0)]
    return b"".join(insns)


def device_program(rules: Sequence[DeviceRule]) -> bytes:
    """The program for OCI ``linux.resources.devices`` (starting from deny-all, as runc)."""
    for r in rules:
        major = WILDCARD if r.major is None or r.major < 0 else r.major
        minor = WILDCARD if r.minor is None or r.minor < 0 else r.minor
        _check_key((r.type, major, minor), r.access, any_type=True)
    return compile_state(target_state(list(rules)))


# ---- bpf(2)


def _u32s(*values: int) -> bytearray:
    """A union bpf_attr that starts with these u32 fields, zero-padded."""
    head = b"".join(v.to_bytes(4, "little") for v in values)
    return bytearray(head.ljust(_ATTR_SIZE, b"\0"))


def load_program(program: bytes) -> int:
    """BPF_PROG_LOAD the device program; returns its fd (close-on-exec)."""

    def attr(log_level: int, log_size: int) -> bytearray:
        a = _u32s(BPF_PROG_TYPE_CGROUP_DEVICE, len(program) // 8, 0, 0, 0, 0, log_level, log_size)
        a[48:64] = _NAME.ljust(16, b"\0")  # prog_name, for bpftool
        return a

    ptrs: list[tuple[int, bytes | bytearray]] = [(8, program), (16, _LICENSE)]
    try:
        try:
            return bpf(BPF_PROG_LOAD, attr(0, 0), ptrs)
        except OSError as exc:
            if exc.errno != errno.EPERM:
                raise
            # Kernels before 5.11 charge programs to RLIMIT_MEMLOCK: raise it
            # where we may (runc does too) and try once more.
            try:
                setrlimit(_RLIMIT_MEMLOCK, _RLIM_INFINITY, _RLIM_INFINITY)
            except OSError:
                raise exc from None
            return bpf(BPF_PROG_LOAD, attr(0, 0), ptrs)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EACCES, errno.E2BIG):
            raise FailedPrecondition(
                f"cgroup: cannot load the eBPF device program (bpf BPF_PROG_LOAD: "
                f"{exc.strerror}); cgroup v2 device rules need CAP_BPF or CAP_SYS_ADMIN "
                "and a kernel with CONFIG_CGROUP_BPF"
            ) from exc
        first = exc
    # Rejected by the verifier: load again with a log to say why.
    log = bytearray(_LOG_SIZE)
    try:
        fd = bpf(BPF_PROG_LOAD, attr(1, _LOG_SIZE), [*ptrs, (32, log)])
    except OSError:
        text = bytes(log).split(b"\0", 1)[0].decode(errors="replace").strip()
        lines = text.splitlines()[-12:] or [f"(no verifier log; {first.strerror})"]
        raise Internal(
            "cgroup: the kernel refused hull's eBPF device program (a bug in hull; please "
            "report it with this log): " + " | ".join(lines)
        ) from first
    return fd  # accepted the second time round (the first failure was transient)


def attached_programs(dir_fd: int, cgroup_dir: str = "the cgroup") -> list[int]:
    """IDs of the device programs attached to the cgroup itself (not inherited)."""
    count = 8
    for _ in range(10):
        ids = bytearray(4 * count)
        a = _u32s(dir_fd, BPF_CGROUP_DEVICE, 0, 0, 0, 0, count, 0)
        try:
            bpf(BPF_PROG_QUERY, a, [(16, ids)])
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # more than we asked for: the count is back
                count = int.from_bytes(a[24:28], "little")
                continue
            hint = " (not a cgroup2 directory?)" if exc.errno == errno.EBADF else ""
            raise FailedPrecondition(
                f"cgroup: cannot list the eBPF device programs of {cgroup_dir} "
                f"(bpf BPF_PROG_QUERY: {exc.strerror}){hint}"
            ) from exc
        n = int.from_bytes(a[24:28], "little")
        return [int.from_bytes(ids[4 * i : 4 * i + 4], "little") for i in range(n)]
    raise FailedPrecondition(f"cgroup: the eBPF device programs of {cgroup_dir} kept changing")


def _program_fds(ids: list[int]) -> list[int]:
    """fds of the programs by id; ones an LSM hides from us are skipped (as runc)."""
    fds: list[int] = []
    for prog_id in ids:
        try:
            fds.append(bpf(BPF_PROG_GET_FD_BY_ID, _u32s(prog_id, 0, 0)))
        except (PermissionError, FileNotFoundError):
            continue  # denied by policy, or detached meanwhile
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            raise FailedPrecondition(
                f"cgroup: cannot open eBPF program {prog_id} (bpf BPF_PROG_GET_FD_BY_ID: "
                f"{exc.strerror})"
            ) from exc
    return fds


def _attach(dir_fd: int, prog_fd: int, replace_fd: int = 0) -> None:
    flags = BPF_F_ALLOW_MULTI | (BPF_F_REPLACE if replace_fd else 0)
    bpf(BPF_PROG_ATTACH, _u32s(dir_fd, prog_fd, BPF_CGROUP_DEVICE, flags, replace_fd))


def _detach(dir_fd: int, prog_fd: int) -> None:
    bpf(BPF_PROG_DETACH, _u32s(dir_fd, prog_fd, BPF_CGROUP_DEVICE, 0, 0))


def _open_dir(cgroup_dir: str) -> int:
    try:
        return os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise FailedPrecondition(f"cgroup: cannot open {cgroup_dir}: {exc.strerror}") from exc


def replace_program(cgroup_dir: str, program: bytes) -> None:
    """Attach ``program`` to the cgroup, then detach the device programs it had."""
    dir_fd = _open_dir(cgroup_dir)
    old: list[int] = []
    prog_fd = -1
    try:
        old = _program_fds(attached_programs(dir_fd, cgroup_dir))
        prog_fd = load_program(program)
        try:
            if len(old) == 1:
                try:
                    _attach(dir_fd, prog_fd, old[0])
                    return
                except OSError as exc:
                    if exc.errno != errno.EINVAL:  # no BPF_F_REPLACE before 5.6
                        raise
            _attach(dir_fd, prog_fd)
            for fd in old:
                try:
                    _detach(dir_fd, fd)
                except FileNotFoundError:
                    pass  # detached meanwhile
        except OSError as exc:
            raise FailedPrecondition(
                f"cgroup: cannot attach the eBPF device program to {cgroup_dir} "
                f"(bpf: {exc.strerror})"
            ) from exc
    finally:
        for fd in [*old, prog_fd, dir_fd]:
            if fd >= 0:
                os.close(fd)


def detach_all(cgroup_dir: str) -> int:
    """Detach every device program attached to the cgroup itself; returns how many."""
    dir_fd = _open_dir(cgroup_dir)
    try:
        fds = _program_fds(attached_programs(dir_fd, cgroup_dir))
        try:
            for fd in fds:
                _detach(dir_fd, fd)
        finally:
            for fd in fds:
                os.close(fd)
        return len(fds)
    finally:
        os.close(dir_fd)


def in_user_namespace() -> bool:
    """True unless /proc/self/uid_map is the initial namespace's identity map."""
    try:
        fd = os.open("/proc/self/uid_map", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        text = os.read(fd, 4096).decode()
    finally:
        os.close(fd)
    return text.split() != ["0", "0", "4294967295"]


def apply_device_rules(cgroup_dir: str, rules: Sequence[DeviceRule]) -> None:
    """Build the program for ``rules`` and make it the cgroup's device filter.

    In a user namespace bpf(2) is refused whatever the rules; the error is
    then ignored as runc and crun do (such a container cannot mknod, and the
    host's device cgroup still applies above it).
    """
    program = device_program(rules)
    try:
        replace_program(cgroup_dir, program)
    except FailedPrecondition:
        if not in_user_namespace():
            raise


__all__ = [
    "apply_device_rules",
    "attached_programs",
    "compile_state",
    "detach_all",
    "device_program",
    "load_program",
    "replace_program",
]
