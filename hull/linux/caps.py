"""Capability names and numbers (linux/capability.h), and set helpers."""

from __future__ import annotations

CAPS: dict[str, int] = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}


_last_cap: list[int] = []  # cached: read up to five times per container start


def last_cap() -> int:
    """The highest capability number this kernel knows."""
    if not _last_cap:
        try:
            with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
                _last_cap.append(int(f.read()))
        except OSError:
            _last_cap.append(max(CAPS.values()))
    return _last_cap[0]


def mask(names: list[str], *, strict: bool = False) -> int:
    """A 64-bit mask of the named capabilities.

    A name that is no capability at all is an error (the runtime spec asks
    for one); a real capability this kernel is too old for is skipped unless
    ``strict``, so that profiles written for newer kernels still work.
    """
    top = last_cap()
    m = 0
    for name in names:
        n = CAPS.get(name.upper())
        if n is None or (strict and n > top):
            from hull.errors import InvalidArgument

            raise InvalidArgument(f"unknown capability {name!r}")
        if n > top:
            continue
        m |= 1 << n
    return m


def names(m: int) -> list[str]:
    """The capability names in a mask."""
    return [name for name, n in CAPS.items() if m & (1 << n)]
