"""Run ``hull-runtime`` verbs in a fork of the monitor instead of a new interpreter.

Every container start costs two runtime helpers (``create``, ``start``) and
its removal one more (``delete``). Executed as programs, each pays for a
Python interpreter and the runtime's imports (about 12 ms here) before it
does a millisecond of work. When the runtime is our own ``hull-runtime``, the
monitor already has the interpreter, so it imports the runtime once and forks:
the child sets up its stdio, signals and fds exactly as ``posix_spawn`` plus
``exec`` would have left them and calls the runtime's ``main``.

Any other runtime (runc, crun, a wrapper script) is spawned as a program;
``HULL_MONITOR_EXEC_RUNTIME=1`` forces that for ours too.

The monitor is single-threaded, so forking it is safe; the child never returns
into the monitor's loop (``os._exit`` on every path).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from functools import cache

# The modules a runtime verb imports lazily; loading them in the monitor once
# means no child pays for them.
_PRELOAD = (
    "hull.runtime.main",
    "hull.runtime.container",
    "hull.runtime.control",
    "hull.runtime.exec",
    "hull.runtime.state",
    "hull.runtime.process",
    "hull.runtime.init",
    "hull.runtime.initdefs",
    "hull.runtime.initplan",
    "hull.runtime.rootfs",
    "hull.runtime.sync",
    "hull.runtime.hooks",
    "hull.runtime.seccomp",
    "hull.runtime.cgroups",
    "hull.runtime.cgroups.v1",
    "hull.runtime.cgroups.v2",
    "hull.runtime.cgroups.devices",
    "hull.runtime.seccomp_notify",
    "hull.runtime.tty",
    "hull.oci.runtime_spec",
    "hull.oci.fastjson",
    "hull.linux.caps",
    "hull.linux.fastos",
    "gc",
)
_MARK = b"hull.runtime.main"


@cache
def is_hull_runtime(path: str) -> bool:
    """Whether ``path`` is a launcher of this package's runtime (checked once per path)."""
    if os.environ.get("HULL_MONITOR_EXEC_RUNTIME") == "1":
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    # A launcher for another checkout would import a different tree: only
    # ours can run in our interpreter.
    return head.startswith(b"#!") and _MARK in head and _tree_of(head) in (None, _our_tree())


def _tree_of(head: bytes) -> str | None:
    for line in head.decode(errors="replace").splitlines():
        if line.startswith("sys.path.insert(0, "):
            return line.split("(0, ", 1)[1].rstrip(")").strip("'\"")
    return None


@cache
def _our_tree() -> str:
    import hull

    return os.path.dirname(os.path.dirname(os.path.abspath(hull.__file__)))


_loaded: dict[str, int] = {}  # source file -> mtime_ns when it was imported
_OWN = ("hull.runtime", "hull.linux", "hull.oci", "hull.errors")


def preload() -> None:
    """Import the runtime's modules so that forked verbs start with them loaded."""
    import importlib

    if _loaded:
        return
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a module renamed by a runtime change: the child imports lazily
            continue
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if path and name.startswith(_OWN):
            try:
                _loaded[path] = os.stat(path).st_mtime_ns
            except OSError:
                continue


def current() -> bool:
    """Whether the runtime code in memory is still the code on disk.

    The monitor outlives upgrades of hull: once a runtime file changed, a
    fork would mix old modules with newly imported ones, so verbs go back to
    running the program until the monitor restarts.
    """
    preload()
    try:
        return all(os.stat(p).st_mtime_ns == t for p, t in _loaded.items())
    except OSError:
        return False


def fork_runtime(argv: Sequence[str], stdio: tuple[int, int, int], sigdef: Sequence[int]) -> int:
    """Fork a child that runs ``hull-runtime argv[1:]`` with ``stdio`` as fds 0-2; its pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _become_helper(stdio, sigdef)
        from hull.runtime.main import main

        sys.argv = list(argv)
        try:
            code = main(list(argv[1:]))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:
        try:
            os.write(2, f"hull-runtime: {exc!r}\n".encode())
        except OSError:
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        os._exit(code)
    return 0  # unreachable


def _become_helper(stdio: tuple[int, int, int], sigdef: Sequence[int]) -> None:
    # What exec would have reset: handlers back to default, the wakeup fd
    # gone, an empty mask; what the file actions did: stdio in place and
    # every other fd closed (the monitor's are all close-on-exec).
    signal.set_wakeup_fd(-1)
    for sig in sigdef:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    # and what a new interpreter does at startup, so both paths behave alike
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_IGN)
    # Move the sources above 2 first so that dup2 cannot clobber one with another.
    high = [os.dup(fd) if fd >= 0 else -1 for fd in stdio]
    for target, fd in enumerate(high):
        if fd >= 0:
            os.dup2(fd, target, inheritable=True)
    os.closerange(3, 1 << 20)


def inline_start(argv: Sequence[str]) -> tuple[int, str] | None:
    """``hull-runtime --root R start ID`` run in the monitor itself: (wait status, stderr).

    ``start`` only wakes the created init through its exec fifo (a poll of
    a millisecond); forking a whole monitor for that cost ~5 ms of every
    container start. None when the verb is anything else or the container
    has poststart hooks (arbitrary programs must not run in the monitor's
    loop): the caller forks as usual.
    """
    if len(argv) != 5 or argv[1] != "--root" or argv[3] != "start":
        return None
    from hull.errors import HullError
    from hull.runtime import control
    from hull.runtime import state as st

    root, cid = argv[2], argv[4]
    try:
        raw = st.load(root, cid).data.get("config")
    except (HullError, OSError):
        return None  # let the runtime itself say what is wrong
    if isinstance(raw, dict) and (raw.get("hooks") or {}).get("poststart"):
        return None
    try:
        control.start(root, cid)
    except HullError as exc:
        return 1 << 8, f"hull-runtime: {exc}\n"
    except OSError as exc:
        return 1 << 8, f"hull-runtime: start: {exc.strerror or exc}\n"
    return 0, ""
