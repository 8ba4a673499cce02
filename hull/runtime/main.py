"""``hull-runtime``: runc's command-line contract.

Arguments are parsed by hand rather than with argparse (~3 ms of import):
the whole ``run`` of a container has a ~20 ms budget. Errors print one line
on stderr (and to ``--log`` in runc's text or JSON format) and exit 1, or the
container's 126/127 when its program cannot be run.
"""

from __future__ import annotations

import sys

from hull.errors import ContainerExit, HullError, InvalidArgument
from hull.linux import fastos as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

USAGE = """\
usage: hull-runtime [global options] COMMAND [options] ID

An OCI runtime: runs a container from an OCI bundle (config.json + rootfs).

Commands:
  create    create a container (its process waits for start)
  start     run the process of a created container
  run       create and start a container, wait for it unless --detach
  state     print the state of a container as JSON
  kill      send a signal (default SIGTERM) to a container's init or, with --all, to all
  delete    remove a stopped container (--force: any container)
  exec      run another process in a running container
  list      list containers
  ps        list the processes of a container
  pause     freeze every process of a container
  resume    thaw a paused container
  events    print resource statistics (--stats once, else every --interval)
  update    change the resource limits of a running container
  features  print the features this runtime supports as JSON
  spec      write a default config.json into the bundle

Global options:
  --root DIR            state directory (default /run/hull-runtime)
  --log FILE            also write errors to FILE
  --log-format text|json
  --debug               verbose errors
  --systemd-cgroup      not supported: an error
  -v, --version         print the version
"""

SIGNALS = {
    "HUP": 1,
    "INT": 2,
    "QUIT": 3,
    "ILL": 4,
    "TRAP": 5,
    "ABRT": 6,
    "IOT": 6,
    "BUS": 7,
    "FPE": 8,
    "KILL": 9,
    "USR1": 10,
    "SEGV": 11,
    "USR2": 12,
    "PIPE": 13,
    "ALRM": 14,
    "TERM": 15,
    "STKFLT": 16,
    "CHLD": 17,
    "CONT": 18,
    "STOP": 19,
    "TSTP": 20,
    "TTIN": 21,
    "TTOU": 22,
    "URG": 23,
    "XCPU": 24,
    "XFSZ": 25,
    "VTALRM": 26,
    "PROF": 27,
    "WINCH": 28,
    "IO": 29,
    "POLL": 29,
    "PWR": 30,
    "SYS": 31,
}


def parse_signal(text: str) -> int:
    """A signal by number, name or SIG-prefixed name (also RTMIN+n)."""
    if text.isdigit():
        n = int(text)
        if 1 <= n <= 64:
            return n
    else:
        name = text.upper().removeprefix("SIG")
        if name in SIGNALS:
            return SIGNALS[name]
        if name.startswith("RTMIN"):
            off = name[5:].lstrip("+") or "0"
            if off.isdigit() and 34 + int(off) <= 64:
                return 34 + int(off)
        if name.startswith("RTMAX"):
            off = name[5:].lstrip("-") or "0"
            if off.isdigit() and 64 - int(off) >= 34:
                return 64 - int(off)
    raise InvalidArgument(f"unknown signal {text!r}")


class Args:
    """Parsed flags of one verb: ``flags`` by long name, then positionals."""

    __slots__ = ("flags", "pos")

    def __init__(self) -> None:
        self.flags: dict[str, Any] = {}
        self.pos: list[str] = []

    def text(self, name: str, default: str = "") -> str:
        v = self.flags.get(name, default)
        return v if isinstance(v, str) else default

    def flag(self, name: str) -> bool:
        return bool(self.flags.get(name))

    def many(self, name: str) -> list[str]:
        v = self.flags.get(name)
        return v if isinstance(v, list) else []


# verb -> {flag: (long name, kind)}; kind: "b" bool, "s" string, "m" repeatable string
_COMMON_CREATE = {
    "--bundle": ("bundle", "s"),
    "-b": ("bundle", "s"),
    "--console-socket": ("console-socket", "s"),
    "--pid-file": ("pid-file", "s"),
    "--no-pivot": ("no-pivot", "b"),
    "--no-new-keyring": ("no-new-keyring", "b"),
    "--preserve-fds": ("preserve-fds", "s"),
    "--notify-socket": ("notify-socket", "s"),
}
VERBS: dict[str, dict[str, tuple[str, str]]] = {
    "create": _COMMON_CREATE,
    "run": {
        **_COMMON_CREATE,
        "--detach": ("detach", "b"),
        "-d": ("detach", "b"),
        "--keep": ("keep", "b"),
    },
    "start": {},
    "state": {},
    "kill": {"--all": ("all", "b"), "-a": ("all", "b")},
    "delete": {"--force": ("force", "b"), "-f": ("force", "b")},
    "exec": {
        "--process": ("process", "s"),
        "-p": ("process", "s"),
        "--console-socket": ("console-socket", "s"),
        "--cwd": ("cwd", "s"),
        "--env": ("env", "m"),
        "-e": ("env", "m"),
        "--tty": ("tty", "b"),
        "-t": ("tty", "b"),
        "--user": ("user", "s"),
        "-u": ("user", "s"),
        "--additional-gids": ("additional-gids", "m"),
        "-g": ("additional-gids", "m"),
        "--process-label": ("process-label", "s"),
        "--apparmor": ("apparmor", "s"),
        "--no-new-privs": ("no-new-privs", "b"),
        "--cap": ("cap", "m"),
        "-c": ("cap", "m"),
        "--detach": ("detach", "b"),
        "-d": ("detach", "b"),
        "--pid-file": ("pid-file", "s"),
        "--preserve-fds": ("preserve-fds", "s"),
        "--ignore-paused": ("ignore-paused", "b"),
    },
    "list": {
        "--format": ("format", "s"),
        "-f": ("format", "s"),
        "--quiet": ("quiet", "b"),
        "-q": ("quiet", "b"),
    },
    "ps": {"--format": ("format", "s"), "-f": ("format", "s")},
    "pause": {},
    "resume": {},
    "events": {"--stats": ("stats", "b"), "--interval": ("interval", "s")},
    "features": {},
    "spec": {"--bundle": ("bundle", "s"), "-b": ("bundle", "s"), "--rootless": ("rootless", "b")},
    "update": {
        "--resources": ("resources", "s"),
        "-r": ("resources", "s"),
        "--memory": ("memory", "s"),
        "--memory-swap": ("memory-swap", "s"),
        "--memory-reservation": ("memory-reservation", "s"),
        "--cpu-shares": ("cpu-shares", "s"),
        "--cpu-quota": ("cpu-quota", "s"),
        "--cpu-period": ("cpu-period", "s"),
        "--cpuset-cpus": ("cpuset-cpus", "s"),
        "--cpuset-mems": ("cpuset-mems", "s"),
        "--pids-limit": ("pids-limit", "s"),
        "--blkio-weight": ("blkio-weight", "s"),
    },
}
# verbs whose positionals after the id belong to the container (stop flag parsing)
_STOP_AT_SECOND = {"exec", "ps"}
GLOBAL = {
    "--root": ("root", "s"),
    "--log": ("log", "s"),
    "--log-format": ("log-format", "s"),
    "--debug": ("debug", "b"),
    "--systemd-cgroup": ("systemd-cgroup", "b"),
    "--criu": ("criu", "s"),
    "--rootless": ("rootless", "s"),
}


def parse(argv: list[str], table: dict[str, tuple[str, str]], verb: str = "") -> Args:
    """Parse flags (``--f v``, ``--f=v``, ``-f v``) until positionals."""
    out = Args()
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            out.pos.extend(argv[i + 1 :])
            break
        if a.startswith("-") and a != "-" and not (verb in _STOP_AT_SECOND and len(out.pos) >= 1):
            name, eq, val = a.partition("=")
            spec = table.get(name)
            if spec is None and name.startswith("--") is False and len(name) > 2:
                # bundled short flags, as -fd
                shorts = [f"-{c}" for c in name[1:]]
                if all(s in table and table[s][1] == "b" for s in shorts):
                    for s in shorts:
                        out.flags[table[s][0]] = True
                    i += 1
                    continue
            if spec is None:
                if name in ("-h", "--help"):
                    raise _Help()
                raise InvalidArgument(f"flag provided but not defined: {name}")
            key, kind = spec
            if kind == "b":
                out.flags[key] = val.lower() not in ("false", "0") if eq else True
            else:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        raise InvalidArgument(f"flag needs an argument: {name}")
                    val = argv[i]
                if kind == "m":
                    out.flags.setdefault(key, []).append(val)
                else:
                    out.flags[key] = val
        else:
            out.pos.append(a)
        i += 1
    return out


class _Help(Exception):
    pass


def _need_id(args: Args, verb: str) -> str:
    if not args.pos:
        raise InvalidArgument(f'"{verb}" requires a container id')
    return args.pos[0]


def _log_error(g: Args, msg: str) -> None:
    path = g.text("log")
    if not path:
        return
    from hull.runtime.state import rfc3339_now

    if g.text("log-format") == "json":
        from hull.oci.fastjson import dumps

        line = dumps({"level": "error", "msg": msg, "time": rfc3339_now()})
    else:
        line = f'time="{rfc3339_now()}" level=error msg="{msg}"'
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode() + b"\n")
        finally:
            os.close(fd)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``hull-runtime``."""
    argv = sys.argv[1:] if argv is None else argv
    # A short-lived process with no reference cycles worth collecting; and a
    # collection in the forked init would touch (and copy) every page.
    import gc

    gc.disable()
    from hull.runtime.trace import mark

    mark("main")
    # global flags come before the verb
    gi = 0
    while gi < len(argv) and argv[gi].startswith("-"):
        name = argv[gi].partition("=")[0]
        spec = GLOBAL.get(name)
        if spec and spec[1] == "s" and "=" not in argv[gi]:
            gi += 1
        gi += 1
    g = Args()
    try:
        g = parse(argv[:gi], GLOBAL)
    except _Help:
        sys.stdout.write(USAGE)
        return 0
    except InvalidArgument as exc:
        if argv[0] in ("-v", "--version"):
            return _version()
        sys.stderr.write(f"hull-runtime: {exc}\n")
        return 1
    rest = argv[gi:]
    if not rest:
        sys.stderr.write(USAGE)
        return 1
    verb = rest[0]
    if verb in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    try:
        if g.flag("systemd-cgroup"):
            raise InvalidArgument("--systemd-cgroup is not supported: hull-runtime drives cgroupfs")
        table = VERBS.get(verb)
        if table is None:
            if verb in ("checkpoint", "restore"):
                raise InvalidArgument(f"{verb} is not supported by hull-runtime")
            raise InvalidArgument(f"unknown command {verb!r} (see hull-runtime --help)")
        args = parse(rest[1:], table, verb)
        root = g.text("root") or "/run/hull-runtime"
        return _dispatch(verb, args, root)
    except _Help:
        sys.stdout.write(USAGE)
        return 0
    except ContainerExit as exc:
        sys.stderr.write(f"hull-runtime: {exc}\n")
        _log_error(g, str(exc))
        return exc.exit_code
    except HullError as exc:
        sys.stderr.write(f"hull-runtime: {exc}\n")
        _log_error(g, str(exc))
        return 1
    except OSError as exc:
        msg = f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc)
        sys.stderr.write(f"hull-runtime: {verb}: {msg}\n")
        _log_error(g, msg)
        return 1
    except KeyboardInterrupt:
        return 130


def _version() -> int:
    from hull import __version__

    sys.stdout.write(f"hull-runtime version {__version__}\nspec: 1.0.2\n")
    return 0


def _dispatch(verb: str, args: Args, root: str) -> int:
    if verb in ("create", "run"):
        from hull.runtime import container as c

        opts = c.CreateOptions(root, _need_id(args, verb), args.text("bundle") or ".")
        opts.console_socket = args.text("console-socket")
        opts.pid_file = args.text("pid-file")
        opts.no_pivot = args.flag("no-pivot")
        opts.no_new_keyring = args.flag("no-new-keyring")
        opts.preserve_fds = _int(args.text("preserve-fds", "0"), "--preserve-fds")
        opts.detach = args.flag("detach")
        return c.create(opts, run=verb == "run")
    from hull.runtime import control as ctl

    if verb == "start":
        ctl.start(root, _need_id(args, verb))
        return 0
    if verb == "state":
        from hull.runtime import state as st

        s = st.load(root, _need_id(args, verb))
        _print_json(s.oci_state())
        return 0
    if verb == "kill":
        cid = _need_id(args, verb)
        sig = parse_signal(args.pos[1]) if len(args.pos) > 1 else 15
        ctl.kill(root, cid, sig, args.flag("all"))
        return 0
    if verb == "delete":
        ctl.delete(root, _need_id(args, verb), args.flag("force"))
        return 0
    if verb == "pause":
        ctl.pause(root, _need_id(args, verb))
        return 0
    if verb == "resume":
        ctl.resume(root, _need_id(args, verb))
        return 0
    from hull.runtime import verbs

    return verbs.dispatch(verb, args, root)


def _int(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"{flag}: {text!r} is not a number") from None


def _print_json(obj: object) -> None:
    # not json: it imports re, ~8 ms of the `state` verb
    from hull.oci.fastjson import dumps_indented

    sys.stdout.write(dumps_indented(obj) + "\n")


if __name__ == "__main__":
    sys.exit(main())
