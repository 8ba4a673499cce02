"""Docker's default seccomp profile, and Docker-format profiles made into OCI ``linux.seccomp``.

The default profile is the one Docker ships (moby ``profiles/seccomp``):
everything not allowed fails with EPERM; a long list of ordinary syscalls is
allowed; a few are allowed only with some argument values (``personality``
domains, ``socket`` except AF_ALG and AF_VSOCK, ``clone`` without namespace flags); and
the syscalls that need a capability are allowed only to containers that have
it in their bounding set (``mount`` and ``unshare`` with CAP_SYS_ADMIN,
``reboot`` with CAP_SYS_BOOT, ...). Without CAP_SYS_ADMIN, ``clone3`` returns
ENOSYS so that libc falls back to ``clone``, whose flags the filter can see.

Here it is data in our own layout (``ALLOWED``, ``CONDITIONAL``, ``BY_CAPABILITY``,
``BY_ARCH``), turned into Docker's profile format by ``default_profile()``.
``setup(profile, caps)`` then does what moby's ``setupSeccomp`` does for any
Docker-format profile (the default or one sent with ``--security-opt
seccomp=<json>``): pick the architectures of this machine from ``archMap``,
keep the rules whose ``includes`` hold and whose ``excludes`` do not (by
capability, architecture, kernel version), and write the OCI object.
"""

from __future__ import annotations

import json
import os
import platform
from typing import Any

from hull.errors import InvalidArgument

EPERM = 1
ENOSYS = 38
AF_ALG = 38
AF_VSOCK = 40

# clone(2) flags that create namespaces; without CAP_SYS_ADMIN they must be 0.
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NAMESPACE_FLAGS = (
    CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
    | CLONE_NEWNET
)  # fmt: skip

# personality(2) domains a container may switch to: PER_LINUX, UNAME26,
# PER_LINUX32, UNAME26|PER_LINUX32, and 0xffffffff (a query).
PERSONALITY_ALLOWED = (0x0, 0x0020000, 0x0008, 0x0020008, 0xFFFFFFFF)

# Allowed to every container, grouped by what they do (a name unknown to an
# architecture is skipped when the filter is compiled).
ALLOWED: dict[str, str] = {
    "files": """access chdir chmod chown chown32 close close_range copy_file_range creat faccessat
        faccessat2 cachestat fadvise64 fadvise64_64 fallocate fchdir fchmod fchmodat
        fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync flock fstat
        fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futimesat
        getcwd getdents getdents64 lchown lchown32 link linkat _llseek lseek lstat
        lstat64 mkdir mkdirat mknod mknodat name_to_handle_at newfstatat open openat
        openat2 readahead readlink readlinkat rename renameat renameat2 rmdir stat
        stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs
        truncate truncate64 umask unlink unlinkat utime utimensat utimensat_time64
        utimes""",
    "xattrs": """fgetxattr flistxattr fremovexattr fsetxattr getxattr lgetxattr listxattr llistxattr
        lremovexattr lsetxattr removexattr setxattr getxattrat listxattrat
        removexattrat setxattrat""",
    "io": """dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait
        epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 fanotify_mark
        inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel
        io_destroy io_getevents io_pgetevents io_pgetevents_time64 io_setup
        io_submit ioctl pipe pipe2 poll ppoll ppoll_time64 pread64 preadv preadv2
        pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readv select
        _newselect sendfile sendfile64 splice tee vmsplice write writev""",
    "memory": """brk madvise membarrier memfd_create memfd_secret mincore mlock mlock2 mlockall mmap
        mmap2 mprotect mremap msync munlock munlockall munmap pkey_alloc pkey_free
        pkey_mprotect remap_file_pages map_shadow_stack mseal""",
    "processes": """capget capset execve execveat exit exit_group fork getcpu getegid
        getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getpgid getpgrp getpid
        getppid getpriority getresgid getresgid32 getresuid getresuid32 getrlimit
        get_robust_list getrusage getsid gettid getuid getuid32 ioprio_get
        ioprio_set kill pidfd_open pidfd_send_signal prctl prlimit64
        process_mrelease restart_syscall rseq sched_getaffinity sched_getattr
        sched_getparam sched_get_priority_max sched_get_priority_min
        sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64
        sched_setaffinity sched_setattr sched_setparam sched_setscheduler
        sched_yield seccomp set_robust_list set_thread_area set_tid_address
        get_thread_area setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
        setgroups setgroups32 setpgid setpriority setregid setregid32 setresgid
        setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit setsid
        setuid setuid32 tgkill tkill ugetrlimit vfork wait4 waitid waitpid""",
    "signals": """pause rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
        rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
        sigaltstack signalfd signalfd4 sigprocmask sigreturn""",
    "time": """adjtimex alarm clock_adjtime clock_adjtime64 clock_getres clock_getres_time64
        clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64
        getitimer gettimeofday nanosleep setitimer time timer_create timer_delete
        timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
        timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
        timerfd_settime64 times""",
    "sync": "futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake",
    "network": """accept accept4 bind connect getpeername getsockname getsockopt listen recv
        recvfrom recvmmsg recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto setsockopt
        shutdown socketcall socketpair""",
    "ipc": """ipc mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
        mq_timedsend mq_timedsend_time64 mq_unlink msgctl msgget msgrcv msgsnd
        semctl semget semop semtimedop semtimedop_time64 shmat shmctl shmdt shmget""",
    "misc": """getrandom landlock_add_rule landlock_create_ruleset landlock_restrict_self listmount
        statmount sysinfo uname uretprobe riscv_hwprobe""",
}

# Allowed to the holders of a capability (its presence in the bounding set).
BY_CAPABILITY: dict[str, str] = {
    "CAP_DAC_READ_SEARCH": "open_by_handle_at",
    "CAP_SYS_ADMIN": """bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie
        lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr
        move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname
        sethostname setns syslog umount umount2 unshare""",
    "CAP_SYS_BOOT": "reboot",
    "CAP_SYS_CHROOT": "chroot",
    "CAP_SYS_MODULE": "delete_module init_module finit_module",
    "CAP_SYS_PACCT": "acct",
    "CAP_SYS_PTRACE": "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace",
    "CAP_SYS_RAWIO": "iopl ioperm",
    "CAP_SYS_TIME": "settimeofday stime clock_settime clock_settime64",
    "CAP_SYS_TTY_CONFIG": "vhangup",
    "CAP_SYS_NICE": "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    "CAP_SYSLOG": "syslog",
    "CAP_BPF": "bpf",
    "CAP_PERFMON": "perf_event_open",
}

# Allowed on some architectures only (Docker's native names: amd64, x86, arm64, ...).
BY_ARCH: tuple[tuple[tuple[str, ...], str], ...] = (
    (("amd64", "x32"), "arch_prctl"),
    (("amd64", "x32", "x86"), "modify_ldt"),
    (("arm", "arm64"),
     "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls"),
    (("ppc64le",), "sync_file_range2 swapcontext"),
    (("s390", "s390x"), "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"),
    (("riscv64",), "riscv_flush_icache"),
)  # fmt: skip

# The argument-dependent rules: (syscall, argument index, operator, value).
# socket(2): every address family but AF_ALG (38) and AF_VSOCK (40).
CONDITIONAL: tuple[tuple[str, int, str, int], ...] = (
    ("socket", 0, "SCMP_CMP_LT", AF_ALG),
    ("socket", 0, "SCMP_CMP_EQ", AF_ALG + 1),
    ("socket", 0, "SCMP_CMP_GT", AF_VSOCK),
    *(("personality", 0, "SCMP_CMP_EQ", v) for v in PERSONALITY_ALLOWED),
)

# Architectures the filter covers, by the machine's native one (audit arches).
ARCH_MAP: dict[str, tuple[str, ...]] = {
    "SCMP_ARCH_X86_64": ("SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "SCMP_ARCH_AARCH64": ("SCMP_ARCH_ARM",),
    "SCMP_ARCH_MIPS64": ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"),
    "SCMP_ARCH_MIPS64N32": ("SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"),
    "SCMP_ARCH_MIPSEL64": ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"),
    "SCMP_ARCH_MIPSEL64N32": ("SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"),
    "SCMP_ARCH_S390X": ("SCMP_ARCH_S390",),
    "SCMP_ARCH_RISCV64": (),
    "SCMP_ARCH_LOONGARCH64": (),
}

# uname -m -> (Docker's native arch name, libseccomp arch)
_MACHINES = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "i686": ("x86", "SCMP_ARCH_X86"),
    "i386": ("x86", "SCMP_ARCH_X86"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
}


def _names(text: str) -> list[str]:
    return text.split()


def default_profile() -> dict[str, Any]:
    """Docker's default profile in Docker's profile format (``archMap``, ``includes``, ...)."""
    allow = "SCMP_ACT_ALLOW"
    syscalls: list[dict[str, Any]] = [
        {"names": sorted(n for group in ALLOWED.values() for n in _names(group)), "action": allow},
        {
            "names": ["process_vm_readv", "process_vm_writev", "ptrace"],
            "action": allow,
            "includes": {"minKernel": "4.8"},
        },
    ]
    for name, index, op, value in CONDITIONAL:
        arg = {"index": index, "value": value, "valueTwo": 0, "op": op}
        syscalls.append({"names": [name], "action": allow, "args": [arg]})
    for arches, names in BY_ARCH:
        syscalls.append(
            {"names": _names(names), "action": allow, "includes": {"arches": list(arches)}}
        )
    for cap, names in BY_CAPABILITY.items():
        syscalls.append({"names": _names(names), "action": allow, "includes": {"caps": [cap]}})
    no_ns = {"value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    # Without CAP_SYS_ADMIN: clone only without namespace flags (s390 swaps
    # clone's first two arguments), clone3 (flags in memory) -> ENOSYS.
    syscalls += [
        {
            "names": ["clone"],
            "action": allow,
            "args": [{"index": 0, **no_ns}],
            "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]},
        },
        {
            "names": ["clone"],
            "action": allow,
            "args": [{"index": 1, **no_ns}],
            "includes": {"arches": ["s390", "s390x"]},
            "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        },
        {
            "names": ["clone3"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": ENOSYS,
            "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        },
    ]
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "archMap": [
            {"architecture": a, "subArchitectures": list(subs)} for a, subs in ARCH_MAP.items()
        ],
        "syscalls": syscalls,
    }


def native_arch() -> tuple[str, str]:
    """(Docker's native name, libseccomp name) of this machine's architecture."""
    machine = platform.machine()
    return _MACHINES.get(machine, (machine, "SCMP_ARCH_" + machine.upper()))


def _kernel_at_least(wanted: str, release: str | None = None) -> bool:
    def parse(v: str, what: str) -> tuple[int, ...]:
        parts: list[int] = []
        for p in v.split("-", 1)[0].split(".")[:3]:
            digits = "".join(c for c in p if c.isdigit()) if parts else p
            if not digits.isdigit():
                raise InvalidArgument(f"seccomp profile: invalid {what} kernel version {v!r}")
            parts.append(int(digits))
        return tuple(parts + [0] * (3 - len(parts)))

    return parse(release or os.uname().release, "running") >= parse(wanted, "minKernel")


def _texts(obj: dict[str, Any], key: str, where: str) -> list[str]:
    v = obj.get(key)
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise InvalidArgument(f"seccomp profile: {where}.{key}: expected a list of strings")
    return v


def _obj(obj: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    v = obj.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise InvalidArgument(f"seccomp profile: {where}.{key}: expected an object")
    return v


def _selected(rule: dict[str, Any], caps: set[str], arch: str, where: str,
              release: str | None) -> bool:  # fmt: skip
    exc = _obj(rule, "excludes", where)
    if arch in _texts(exc, "arches", where):
        return False
    if any(c in caps for c in _texts(exc, "caps", where)):
        return False
    mk = exc.get("minKernel")
    if mk and _kernel_at_least(str(mk), release):
        return False
    inc = _obj(rule, "includes", where)
    arches = _texts(inc, "arches", where)
    if arches and arch not in arches:
        return False
    if not all(c in caps for c in _texts(inc, "caps", where)):
        return False
    mk = inc.get("minKernel")
    return not (mk and not _kernel_at_least(str(mk), release))


def setup(
    profile: dict[str, Any],
    caps: set[str] | list[str] | tuple[str, ...],
    *,
    machine: tuple[str, str] | None = None,
    kernel_release: str | None = None,
) -> dict[str, Any] | None:
    """A Docker-format profile -> OCI ``linux.seccomp`` for a container with ``caps``.

    ``None`` when the profile has neither a default action nor rules (moby
    treats that as "seccomp disabled").
    """
    if not isinstance(profile, dict):
        raise InvalidArgument("seccomp profile: expected a JSON object")
    caps = set(caps)
    arch, seccomp_arch = machine or native_arch()
    default_action = profile.get("defaultAction") or ""
    rules = profile.get("syscalls") or []
    if not isinstance(rules, list):
        raise InvalidArgument("seccomp profile: syscalls: expected a list")
    if not default_action and not rules:
        return None
    architectures = _texts(profile, "architectures", "profile")
    arch_map = profile.get("archMap") or []
    if architectures and arch_map:
        raise InvalidArgument(
            "'architectures' and 'archMap' were specified in the seccomp profile,"
            " use either 'architectures' or 'archMap'"
        )
    out: dict[str, Any] = {"defaultAction": default_action}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches = list(architectures)
    for entry in arch_map if isinstance(arch_map, list) else []:
        if isinstance(entry, dict) and entry.get("architecture") == seccomp_arch:
            arches = [seccomp_arch, *_texts(entry, "subArchitectures", "archMap")]
            break
    if arches:
        out["architectures"] = arches
    for key in ("flags", "listenerPath", "listenerMetadata"):
        if profile.get(key):
            out[key] = profile[key]
    syscalls: list[dict[str, Any]] = []
    for i, rule in enumerate(rules):
        where = f"syscalls[{i}]"
        if not isinstance(rule, dict):
            raise InvalidArgument(f"seccomp profile: {where}: expected an object")
        if not _selected(rule, caps, arch, where, kernel_release):
            continue
        names = _texts(rule, "names", where)
        if rule.get("name"):
            if names:
                raise InvalidArgument(
                    "'name' and 'names' were specified in the seccomp profile, use either"
                    " 'name' or 'names'"
                )
            names = [str(rule["name"])]
        call: dict[str, Any] = {"names": names, "action": rule.get("action", "")}
        if rule.get("errnoRet") is not None:
            call["errnoRet"] = rule["errnoRet"]
        args = rule.get("args")
        if args:
            call["args"] = [
                {"index": a.get("index", 0), "value": a.get("value", 0),
                 "valueTwo": a.get("valueTwo", 0), "op": a.get("op", "")}
                for a in args if isinstance(a, dict)
            ]  # fmt: skip
        syscalls.append(call)
    out["syscalls"] = syscalls
    return out


def profile_for(caps: set[str] | list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Docker's default profile as OCI ``linux.seccomp`` for a container with ``caps``."""
    result = setup(default_profile(), caps)
    assert result is not None
    return result


def load_profile(text: str, caps: set[str] | list[str] | tuple[str, ...]) -> dict[str, Any] | None:
    """A profile's JSON text (``--security-opt seccomp=<content>``) -> OCI ``linux.seccomp``."""
    try:
        profile = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"Decoding seccomp profile failed: {exc}") from None
    return setup(profile, caps)


__all__ = [
    "ALLOWED",
    "ARCH_MAP",
    "BY_ARCH",
    "BY_CAPABILITY",
    "CLONE_NAMESPACE_FLAGS",
    "CONDITIONAL",
    "default_profile",
    "load_profile",
    "native_arch",
    "profile_for",
    "setup",
]
