"""The runtime's less frequent verbs: exec, list, ps, events, update, features, spec.

Kept out of :mod:`hull.runtime.main` so that ``create``/``start``/``run``
import none of this.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from hull.errors import FailedPrecondition, InvalidArgument, NotFound
from hull.runtime import control
from hull.runtime import exec as c
from hull.runtime import state as st

if TYPE_CHECKING:
    from hull.runtime.main import Args


def dispatch(verb: str, args: Args, root: str) -> int:
    """Run one of the verbs of this module."""
    fn = {
        "exec": cmd_exec,
        "list": cmd_list,
        "ps": cmd_ps,
        "events": cmd_events,
        "update": cmd_update,
        "features": cmd_features,
        "spec": cmd_spec,
    }[verb]
    return fn(args, root)


def _need_id(args: Args, verb: str) -> str:
    if not args.pos:
        raise InvalidArgument(f'"{verb}" requires a container id')
    return args.pos[0]


def _parse_user(text: str) -> tuple[int, int | None]:
    uid, _, gid = text.partition(":")
    try:
        return int(uid), int(gid) if gid else None
    except ValueError:
        raise InvalidArgument(f"--user {text!r}: want UID[:GID] as numbers") from None


def cmd_exec(args: Args, root: str) -> int:
    from hull.oci.runtime_spec import parse_process

    cid = _need_id(args, "exec")
    state = st.load(root, cid)
    pfile = args.text("process")
    if pfile:
        try:
            with open(pfile, "rb") as f:
                raw = json.load(f)
        except OSError as exc:
            raise InvalidArgument(f"--process {pfile}: {exc.strerror}") from None
        except ValueError as exc:
            raise InvalidArgument(f"--process {pfile} is not valid JSON: {exc}") from None
    else:
        if len(args.pos) < 2:
            raise InvalidArgument("exec needs a command, or --process FILE")
        base = dict((state.data.get("config") or {}).get("process") or {})
        raw = json.loads(json.dumps(base))
        raw["args"] = args.pos[1:]
        raw["terminal"] = args.flag("tty")
        raw.pop("consoleSize", None)
        raw["env"] = list(raw.get("env") or []) + args.many("env")
        if args.text("cwd"):
            raw["cwd"] = args.text("cwd")
        if args.text("user"):
            uid, gid = _parse_user(args.text("user"))
            user = raw.setdefault("user", {})
            user["uid"] = uid
            if gid is not None:
                user["gid"] = gid
        gids = args.many("additional-gids")
        if gids:
            try:
                raw.setdefault("user", {})["additionalGids"] = [int(x) for x in gids]
            except ValueError:
                raise InvalidArgument("--additional-gids wants numbers") from None
        if args.flag("no-new-privs"):
            raw["noNewPrivileges"] = True
        caps = args.many("cap")
        if caps:
            cs = raw.setdefault("capabilities", {})
            for kind in ("bounding", "effective", "permitted", "inheritable", "ambient"):
                cs[kind] = list(cs.get(kind) or []) + caps
    opts = c.ExecOptions(parse_process(raw))
    opts.console_socket = args.text("console-socket")
    opts.pid_file = args.text("pid-file")
    opts.detach = args.flag("detach")
    try:
        opts.preserve_fds = int(args.text("preserve-fds", "0"))
    except ValueError:
        raise InvalidArgument("--preserve-fds wants a number") from None
    return c.exec_process(root, cid, opts)


def _owner(path: str) -> str:
    try:
        uid = os.stat(path).st_uid
    except OSError:
        return ""
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"#{uid}"


def cmd_list(args: Args, root: str) -> int:
    rows: list[dict[str, Any]] = []
    for cid in st.list_ids(root):
        try:
            s = st.load(root, cid)
        except (NotFound, InvalidArgument):
            continue
        o = s.oci_state()
        o["owner"] = _owner(s.dir)
        rows.append(o)
    if args.flag("quiet"):
        for r in rows:
            print(r["id"])
        return 0
    fmt = args.text("format", "table")
    if fmt == "json":
        print(json.dumps(rows))
        return 0
    if fmt != "table":
        raise InvalidArgument(f"invalid format {fmt!r}: want table or json")
    table = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
    for r in rows:
        table.append([r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"]])
    print_table(table)
    return 0


def print_table(rows: list[list[str]]) -> None:
    """Columns padded like Go's tabwriter (min width 12, padding 3)."""
    widths = [max(12, *(len(r[i]) + 3 for r in rows)) for i in range(len(rows[0]))]
    for r in rows:
        line = "".join(
            cell.ljust(widths[i]) if i < len(r) - 1 else cell for i, cell in enumerate(r)
        )
        print(line)


def cmd_ps(args: Args, root: str) -> int:
    cid = _need_id(args, "ps")
    pids = control.pids(root, cid)
    fmt = args.text("format", "table")
    if fmt == "json":
        print(json.dumps(pids))
        return 0
    if fmt != "table":
        raise InvalidArgument(f"invalid format {fmt!r}: want table or json")
    import subprocess

    ps_args = args.pos[1:] or ["-ef"]
    try:
        out = subprocess.run(["ps", *ps_args], capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise FailedPrecondition(f"cannot run ps: {exc}") from None
    lines = out.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    try:
        col = header.index("PID")
    except ValueError:
        raise InvalidArgument("ps output has no PID column; pass options that print it") from None
    print(lines[0])
    wanted = set(pids)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            print(line)
    return 0


def _stats(state: st.State) -> dict[str, Any]:
    paths = state.data.get("cgroupPaths")
    if not paths:
        return {}
    from hull.runtime.cgroups import load_cgroup_manager

    return dict(load_cgroup_manager(paths).stats())


def cmd_events(args: Args, root: str) -> int:
    cid = _need_id(args, "events")
    state = st.load(root, cid)
    if state.status() == st.STOPPED:
        raise FailedPrecondition(f"container {cid} is not running")
    if args.flag("stats"):
        print(json.dumps({"type": "stats", "id": cid, "data": _stats(state)}))
        return 0
    import time

    interval = _duration(args.text("interval", "5s"))
    paths = state.data.get("cgroupPaths") or {}
    from hull.runtime.cgroups import load_cgroup_manager

    cgm = load_cgroup_manager(paths) if paths else None
    ooms = cgm.oom_kill_count() if cgm else 0
    next_stats = 0.0
    while state.status() != st.STOPPED:
        now = time.monotonic()
        if cgm is not None:
            n = cgm.oom_kill_count()
            if n > ooms:
                ooms = n
                print(json.dumps({"type": "oom", "id": cid}), flush=True)
        if now >= next_stats:
            print(json.dumps({"type": "stats", "id": cid, "data": _stats(state)}), flush=True)
            next_stats = now + interval
        time.sleep(min(interval, 0.2))
    return 0


def _duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * units[suffix]
            except ValueError:
                break
    raise InvalidArgument(f"invalid duration {text!r} (e.g. 5s, 500ms)")


def cmd_update(args: Args, root: str) -> int:
    from hull.oci.runtime_spec import Resources, _Reader
    from hull.runtime.cgroups import load_cgroup_manager

    cid = _need_id(args, "update")
    state = st.load(root, cid)
    if state.status() == st.STOPPED:
        raise FailedPrecondition(f"container {cid} is not running")
    res: dict[str, Any] = {}
    src = args.text("resources")
    if src:
        try:
            if src == "-":
                res = json.load(sys.stdin)
            else:
                with open(src, "rb") as f:
                    res = json.load(f)
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"--resources {src}: {exc}") from None
    mem = res.setdefault("memory", {})
    cpu = res.setdefault("cpu", {})
    for flag, (sect, key, kind) in {
        "memory": (mem, "limit", int),
        "memory-swap": (mem, "swap", int),
        "memory-reservation": (mem, "reservation", int),
        "cpu-shares": (cpu, "shares", int),
        "cpu-quota": (cpu, "quota", int),
        "cpu-period": (cpu, "period", int),
        "cpuset-cpus": (cpu, "cpus", str),
        "cpuset-mems": (cpu, "mems", str),
    }.items():
        v = args.text(flag)
        if v:
            try:
                sect[key] = kind(v)
            except ValueError:
                raise InvalidArgument(f"--{flag}: {v!r} is not valid") from None
    if args.text("pids-limit"):
        res["pids"] = {"limit": int(args.text("pids-limit"))}
    if args.text("blkio-weight"):
        res["blockIO"] = {"weight": int(args.text("blkio-weight"))}
    resources = Resources(_Reader(res, "resources"))
    paths = state.data.get("cgroupPaths")
    if not paths:
        raise FailedPrecondition(f"container {cid} has no cgroup")
    load_cgroup_manager(paths).apply(resources)
    return 0


def cmd_features(args: Args, root: str) -> int:
    from hull.linux.caps import CAPS
    from hull.oci.runtime_spec import HOOK_KINDS, NAMESPACE_TYPES, SECCOMP_ACTIONS, SECCOMP_OPS
    from hull.runtime.initdefs import MOUNT_FLAGS, PROPAGATION

    features = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.1.0",
        "hooks": list(HOOK_KINDS),
        "mountOptions": sorted([*MOUNT_FLAGS, *PROPAGATION, "rro"]),
        "linux": {
            "namespaces": list(NAMESPACE_TYPES),
            "capabilities": list(CAPS),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},
            "seccomp": {
                "enabled": True,
                "actions": list(SECCOMP_ACTIONS),
                "operators": list(SECCOMP_OPS),
                "archs": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            },
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
        "annotations": {"org.hull.runtime.version": __import__("hull").__version__},
    }
    print(json.dumps(features, indent=2))
    return 0


def cmd_spec(args: Args, root: str) -> int:
    from hull.runtime.defaults import default_spec

    bundle = args.text("bundle") or "."
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise InvalidArgument(f"file {path} exists: remove it first")
    st.atomic_write(path, json.dumps(default_spec(), indent=2).encode() + b"\n", 0o644)
    return 0
