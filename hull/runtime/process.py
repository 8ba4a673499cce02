"""The last steps before a container process runs: identity, limits, exec.

Shared by the container's init and by ``exec``. Order matters and follows
runc: rlimits; find the executable; if no_new_privileges is unset, load
seccomp while we still hold CAP_SYS_ADMIN; keep caps across setuid; drop the
bounding set; groups, gid, uid; the four other capability sets; no_new_privs;
seccomp as late as possible; mark every fd but stdio (and the preserved ones)
close-on-exec; execve.
"""

from __future__ import annotations

from hull import linux
from hull.errors import InvalidArgument
from hull.linux import fastos as os
from hull.runtime.initdefs import DEFAULT_PATH, env_value
from hull.runtime.initdefs import seccomp_lets as _seccomp_lets
from hull.runtime.sync import InitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.oci.runtime_spec import Process, Seccomp


def set_rlimits(proc: Process) -> None:
    """Apply process.rlimits; a value above the host's hard limit is an error."""
    for rl in proc.rlimits:
        kind = linux.RLIMITS.get(rl.type)
        if kind is None:
            raise InvalidArgument(f"unknown rlimit type {rl.type}")
        try:
            linux.setrlimit(kind, rl.soft, rl.hard)
        except OSError as exc:
            raise InvalidArgument(
                f"cannot set {rl.type} to soft={rl.soft} hard={rl.hard}: {exc.strerror}"
                " (a hard limit above the runtime's own needs CAP_SYS_RESOURCE)"
            ) from None


def lookup(argv0: str, env: list[str]) -> str:
    """Resolve the program like execvp, inside the (already switched) root."""
    if "/" in argv0:
        return argv0
    path = env_value(env, "PATH") or DEFAULT_PATH
    denied = None
    for d in path.split(":"):
        cand = os.path.join(d or ".", argv0)
        try:
            st = os.stat(cand)
        except OSError:
            continue
        if st.st_mode & 0o170000 != 0o100000:
            continue
        if os.access(cand, os.X_OK):
            return cand
        denied = cand
    if denied:
        return denied
    raise InitError(f'exec: "{argv0}": executable file not found in $PATH', 127)


def check_executable(path: str, argv0: str) -> None:
    """Fail early (at create) for a missing or non-executable program.

    Also refuses a program that is, or whose ``#!`` interpreter chain reaches,
    the runtime's own executable (``#!/proc/self/exe``): that is how
    CVE-2019-5736 reached the host's binary, here the host's Python. The exec
    trampoline (see :func:`finalize_and_exec`) closes that by construction;
    this check is defence in depth, and all there is when the trampoline
    cannot run.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InitError(f'exec: "{argv0}": stat {path}: no such file or directory', 127) from None
    except PermissionError:
        raise InitError(f'exec: "{argv0}": permission denied', 126) from None
    except IsADirectoryError:
        raise InitError(f'exec: "{argv0}": is a directory', 126) from None
    try:
        st = os.fstat(fd)
        try:
            me = os.stat("/proc/self/exe")
        except OSError:
            me = None
        if me is not None and (me.st_dev, me.st_ino) == (st.st_dev, st.st_ino):
            # a symlink to /proc/self/exe: the runtime's own interpreter would
            # run in the container, open to /proc/<pid>/exe (CVE-2019-5736)
            raise InitError(f'exec: "{argv0}": refusing to run the runtime itself', 126)
        if st.st_mode & 0o170000 != 0o100000:
            raise InitError(f'exec: "{argv0}": not a regular file', 126)
        if not os.access(path, os.X_OK):
            raise InitError(f'exec: "{argv0}": permission denied', 126)
        head = os.read(fd, 256)
    finally:
        os.close(fd)
    # the kernel follows #! interpreters five deep (#!/a, where /a is #!/b...);
    # an unreadable or missing one ends the walk (execve will say why)
    for _ in range(5):
        if not head.startswith(b"#!"):
            return
        # as binfmt_script parses it: a NUL, space, tab or newline ends the name
        line = head[2:].split(b"\n", 1)[0].split(b"\0", 1)[0]
        words = line.replace(b"\t", b" ").split()
        if not words:
            return
        interp = words[0].decode("utf-8", "replace")
        if interp.startswith("/proc/") and interp.endswith("/exe"):
            raise InitError(
                f'exec: "{argv0}": refusing a script interpreted by {interp} (runtime escape)', 126
            )
        try:
            it = os.stat(interp)
        except OSError:
            return
        if me is not None and (me.st_dev, me.st_ino) == (it.st_dev, it.st_ino):
            raise InitError(f'exec: "{argv0}": interpreter is the runtime itself', 126)
        try:
            fd = os.open(interp, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        try:
            head = os.read(fd, 256)
        except OSError:
            return
        finally:
            os.close(fd)


def home_of(uid: int) -> str:
    """The home directory of ``uid`` from the container's /etc/passwd, else /."""
    try:
        with open("/etc/passwd", "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                parts = line.split(":")
                if len(parts) >= 6 and parts[2] == str(uid):
                    return parts[5] or "/"
    except OSError:
        pass
    return "/"


def set_identity(proc: Process, userns: bool) -> None:
    """Groups, gid and uid, keeping the permitted capabilities across setuid."""
    u = proc.user
    linux.prctl(linux.PR_SET_KEEPCAPS, 1)
    try:
        os.setgroups(u.additional_gids)
    except PermissionError:
        # setgroups is denied in a user namespace with setgroups=deny
        if u.additional_gids or not userns:
            raise
    os.setresgid(u.gid, u.gid, u.gid)
    os.setresuid(u.uid, u.uid, u.uid)
    linux.prctl(linux.PR_SET_KEEPCAPS, 0)


def drop_bounding(bounding: list[str]) -> None:
    from hull.linux.caps import last_cap, mask

    linux.capbset_drop(mask(bounding), last_cap())


def set_caps(proc: Process) -> None:
    caps = proc.capabilities
    if caps is None:
        return
    from hull.linux.caps import mask

    linux.capset(mask(caps.effective), mask(caps.permitted), mask(caps.inheritable))
    linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_CLEAR_ALL)
    for name in caps.ambient:
        from hull.linux.caps import CAPS

        n = CAPS.get(name)
        if n is None:
            continue
        try:
            linux.prctl(linux.PR_CAP_AMBIENT, linux.PR_CAP_AMBIENT_RAISE, n)
        except OSError:
            # not in permitted+inheritable: runc ignores it too
            pass


def load_seccomp(
    seccomp: Seccomp | None, notify_sock: int = -1, notify_state: dict[str, Any] | None = None
) -> None:
    """Load the filter; a notify listener goes to ``listenerPath`` over ``notify_sock``."""
    if seccomp is None:
        return
    from hull.runtime.seccomp import load

    listener = load(seccomp)
    if listener > 0:
        try:
            if notify_sock >= 0:
                from hull.runtime.seccomp_notify import send_listener

                send_listener(notify_sock, listener, seccomp, notify_state or {})
        finally:
            # the agent has its copy; ours would reach the container
            os.close(listener)


def _cloexec_from(first: int) -> None:
    try:
        linux.close_range(first, 0xFFFFFFFF, linux.CLOSE_RANGE_CLOEXEC)
    except OSError:
        # kernels before 5.11: mark them one by one
        import fcntl

        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd >= first:
                try:
                    fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
                except OSError:
                    pass


def _default_signals() -> None:
    """Undo what the interpreter did to signals, before a filter could forbid it.

    Python ignores SIGPIPE and SIGXFSZ at start-up, and an ignored signal
    stays ignored across execve: without this, ``yes | head`` in a container
    would never end by SIGPIPE. The mask is emptied as well.
    """
    import _signal  # type: ignore[import-not-found]

    for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):
        _signal.signal(sig, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())


def finalize_and_exec(
    proc: Process,
    seccomp: Seccomp | None,
    *,
    userns: bool,
    preserve_fds: int = 0,
    exec_fd_hook: int = -1,
    checked: str = "",
    notify_sock: int = -1,
    notify_state: dict[str, Any] | None = None,
    report_fd: int = -1,
) -> None:
    """Become the container process. Never returns; raises InitError on failure.

    ``checked``: the absolute path of the program, found and checked by the
    caller just before (nothing can have changed it since): not looked up again.
    ``notify_sock``: a connection to the seccomp agent (see
    :mod:`hull.runtime.seccomp_notify`), sent ``notify_state`` and the listener.
    ``report_fd``: the sync pipe to the runtime, if it still listens: the exec
    trampoline reports a failed execve there (an ERROR message), else on stderr.

    The program is not exec'd from here but by hull's exec trampoline
    (``hull/linux/trampoline.c``), exec'd first from a sealed memfd: until
    then this process's /proc/self/exe is the host's Python, and a program
    whose ``#!`` chain ends in /proc/self/exe would run it in the container,
    where /proc/<pid>/exe can be reopened for writing (CVE-2019-5736). With
    the trampoline, /proc/self/exe names a private copy nobody can write.
    When it cannot run (no trampoline for this architecture, memfd_create or
    execveat refused by a seccomp filter or vm.memfd_noexec=2, an old kernel)
    the program is exec'd directly, after :func:`check_executable`'s checks.
    """
    env = list(proc.env)
    if env_value(env, "HOME") is None:
        env.append("HOME=" + home_of(proc.user.uid))
    try:
        os.chdir(proc.cwd)
    except OSError as exc:
        raise InitError(
            f"cannot change to working directory {proc.cwd}: {exc.strerror}", 1
        ) from None
    if checked.startswith("/"):
        path = checked
    else:
        path = lookup(proc.args[0], env)
        check_executable(path, proc.args[0])
    _default_signals()
    # No descriptor of the runtime may reach the container (CVE-2024-21626):
    # everything past stdio and the preserved fds closes at exec. Before any
    # seccomp filter, which may not allow close_range.
    _cloexec_from(3 + preserve_fds)
    # The trampoline's memfd (close-on-exec, sealed) before the filter, which
    # may forbid memfd_create, and while we may still write anywhere
    trampoline = -1
    try:
        if _seccomp_lets(seccomp, "execveat"):
            trampoline = linux.trampoline_memfd()
        else:
            raise OSError("the seccomp filter may kill execveat")
    except OSError as exc:
        from hull.runtime.trace import mark

        mark(f"exec: no trampoline ({exc}): plain execve")
    if not _seccomp_lets(seccomp, "fcntl"):
        report_fd = -1  # the trampoline would fcntl it: errors go to stderr
    if not proc.no_new_privileges:
        load_seccomp(seccomp, notify_sock, notify_state)
        seccomp = None
    caps = proc.capabilities
    if caps is not None:
        drop_bounding(caps.bounding)
    set_identity(proc, userns)
    set_caps(proc)
    if proc.no_new_privileges:
        linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    os.umask(proc.user.umask if proc.user.umask is not None else 0o022)
    load_seccomp(seccomp, notify_sock, notify_state)
    envd = dict(e.split("=", 1) for e in env if "=" in e)
    if trampoline >= 0:
        if report_fd < 3 + preserve_fds:
            report_fd = -1  # never a descriptor the program is meant to get
        try:
            # argv as trampoline.c expects it: magic, report fd, path, the program's argv
            linux.execveat(
                trampoline,
                ["hull-exec", str(report_fd), path, *proc.args],
                [f"{k}={v}" for k, v in envd.items()],
                report_fd,
            )
        except (OSError, ValueError) as exc:
            # e.g. execveat denied by the container's seccomp filter: the direct
            # exec below, which says what is wrong if it fails too
            from hull.runtime.trace import mark

            mark(f"exec: no trampoline ({exc}): plain execve")
        try:
            os.close(trampoline)
        except OSError:
            pass  # close-on-exec anyway (a filter may forbid close)
    try:
        os.execve(path, proc.args, envd)
    except PermissionError:
        raise InitError(f'exec: "{proc.args[0]}": permission denied', 126) from None
    except FileNotFoundError:
        raise InitError(f'exec: "{proc.args[0]}": no such file or directory', 127) from None
    except OSError as exc:
        # worded as the trampoline words it: "exec format error"
        reason = exc.strerror or str(exc)
        raise InitError(f'exec: "{proc.args[0]}": {reason[:1].lower()}{reason[1:]}', 126) from None
