"""What a container is made of, between its create request and its OCI bundle.

The :class:`~hull.engine.engine.Engine` drives the lifecycle; this module
holds the pieces it composes, each a function of explicit inputs:

* **mounts** at create: ``-v`` binds (a missing host directory is created, as
  Docker does for ``-v`` but not for ``--mount``), named and anonymous
  volumes (image ``VOLUME``\\s and ``-v /path``), ``--mount`` of type bind,
  volume and tmpfs, each stored as Docker's inspect ``MountPoint`` (with the
  private ``CopyData`` flag) and turned into :class:`ResolvedMount` at start;
* the **network files** (``hostname``, ``hosts``, ``resolv.conf``) written
  at create (bridged containers get theirs rewritten with their address at
  start, by :mod:`hull.engine.networking`);
* the **log configuration** (``json-file`` with ``max-size``/``max-file``,
  or ``none``), checked at create as dockerd does;
* **signals** by name or number and the container's **State** document;
* the **operations** on an existing container that the
  :class:`~hull.engine.engine.Engine` binds as its methods: exec, logs,
  attach, top, stats and prune (export, diff and commit are in
  :mod:`hull.engine.filesystem`).
"""

from __future__ import annotations

import contextlib
import json
import shlex
import signal as _signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hull import metadata as md
from hull.engine import inspect as shapes
from hull.engine import units
from hull.engine.config import ContainerConfig, HostConfig
from hull.engine.mounts import (
    make_mounts,
    parse_api_mount,
    parse_bind,
    plan_mounts,
    resolved_mounts,
)
from hull.engine.names import new_id
from hull.engine.spec import (
    all_capabilities,
    resolve_user,
)
from hull.errors import (
    Conflict,
    ContainerExit,
    FailedPrecondition,
    HullError,
    Internal,
    InvalidArgument,
    NotFound,
)
from hull.metadata import ContainerRecord
from hull.network import files as netfiles

if TYPE_CHECKING:
    from hull.engine.engine import Engine

ZERO_TIME = shapes.ZERO_TIME
now_rfc3339 = shapes.now_rfc3339
public_mounts = shapes.public_mounts


class AlreadyInState(Conflict):
    """The container is already in the state asked for: the API answers 304 Not Modified.

    Its kind stays ``conflict`` (409) for code that does not know it.
    """


def new_state() -> dict[str, Any]:
    """Docker's State of a container that was just created."""
    return {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": ZERO_TIME,
        "FinishedAt": ZERO_TIME,
    }


# -- signals ------------------------------------------------------------------------


def parse_signal(value: str | int | None, default: int = _signal.SIGKILL) -> int:
    """A signal number from "KILL", "SIGKILL", "9" or 9 (Docker's ``signal.ParseSignal``)."""
    if value is None or value == "":
        return default
    if isinstance(value, int):
        num = value
    elif value.isdigit():
        num = int(value)
    else:
        name = value.upper()
        name = name if name.startswith("SIG") else "SIG" + name
        try:
            num = int(getattr(_signal.Signals, name))
        except AttributeError:
            if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
                base = _signal.SIGRTMIN if "MIN" in name else _signal.SIGRTMAX
                off = name[8:]
                try:
                    return int(base) + int(off or 0)
                except ValueError:
                    pass
            raise InvalidArgument(f"Invalid signal: {value}") from None
    if not 1 <= num <= 64:
        raise InvalidArgument(f"Invalid signal: {value}")
    return num


# -- log configuration --------------------------------------------------------------

_JSON_FILE_OPTS = ("max-size", "max-file", "compress", "labels", "labels-regex", "env",
                   "env-regex", "tag")  # fmt: skip


def log_options(host: HostConfig) -> dict[str, int] | None:
    """``max_size``/``max_file`` of a json-file log; None for the ``none`` driver.

    Other drivers are refused with dockerd's message.
    """
    driver = host.log_config.type or "json-file"
    opts = host.log_config.config
    if driver == "none":
        if opts:
            raise InvalidArgument(f"unknown log opt '{sorted(opts)[0]}' for none log driver")
        return None
    if driver != "json-file":
        raise InvalidArgument(f"logger: no log driver named '{driver}' is registered")
    for key in opts:
        if key not in _JSON_FILE_OPTS:
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")
    max_size = 0
    if opts.get("max-size"):
        max_size = units.ram_in_bytes(opts["max-size"])
        if max_size <= 0:
            raise InvalidArgument("max-size must be a positive number")
    max_file = 1
    if opts.get("max-file"):
        try:
            max_file = int(opts["max-file"])
        except ValueError:
            raise InvalidArgument(f"invalid max-file: {opts['max-file']!r}") from None
        if max_file < 1:
            raise InvalidArgument("max-file cannot be less than 1")
        if max_file > 1 and max_size == 0:
            raise InvalidArgument("max-file can only be used with max-size")
    return {"max_size": max_size, "max_file": max_file}


# -- network files ------------------------------------------------------------------


def check_network_mode(host: HostConfig) -> str:
    """The effective mode: ``default`` is ``bridge`` (checked at create by networking.plan)."""
    from hull.engine.networking import mode_of

    return mode_of(host)


def default_hostname(cid: str, host: HostConfig) -> str:
    """The container's hostname when none is given: its short id, or the host's (host mode)."""
    if check_network_mode(host) == "host":
        return socket.gethostname()
    return cid[:12]


def write_network_files(cdir: Path, cfg: ContainerConfig, host: HostConfig) -> None:
    """``hostname``, ``hosts`` and ``resolv.conf`` of the container, in its directory."""
    mode = check_network_mode(host)
    extra = [netfiles.parse_add_host(h) for h in host.extra_hosts or ()]
    netfiles.write_atomic(cdir / "hostname", cfg.hostname + "\n", durable=False)
    if mode == "host":
        try:
            hosts = Path("/etc/hosts").read_text()
        except OSError:
            hosts = netfiles.DEFAULT_HOSTS
        hosts += "".join(f"{addr}\t{name}\n" for name, addr in extra)
        try:
            resolv = Path("/etc/resolv.conf").read_text()
        except OSError:
            resolv = ""
        if host.dns or host.dns_search or host.dns_options:
            resolv = netfiles.render_resolv_conf(
                netfiles.parse_resolv_conf(resolv), dns=host.dns or (),
                dns_search=host.dns_search or (), dns_options=host.dns_options or (),
            )  # fmt: skip
    else:
        hosts = netfiles.render_hosts(
            cfg.hostname, ["127.0.0.1"], domainname=cfg.domainname, extra_hosts=extra
        )
        resolv = netfiles.render_resolv_conf(
            netfiles.read_host_resolv_conf(), dns=host.dns or (),
            dns_search=host.dns_search or (), dns_options=host.dns_options or (),
        )  # fmt: skip
    netfiles.write_atomic(cdir / "hosts", hosts, durable=False)
    netfiles.write_atomic(cdir / "resolv.conf", resolv, durable=False)


# -- operations on a container (bound as Engine methods) ------------------------------


def _running(rec: ContainerRecord) -> bool:
    return bool(rec.state.get("Running")) and not rec.state.get("Restarting")


def _must_run(rec: ContainerRecord) -> None:
    if not _running(rec):
        raise Conflict(f"Container {rec.id} is not running")


def exec_create(engine: Engine, ref: str, body: Mapping[str, Any]) -> str:
    """Docker's ``POST /containers/{id}/exec``: a new exec instance's id."""
    rec = engine.find(ref)
    _must_run(rec)
    if rec.state.get("Paused"):
        raise Conflict(f"Container {rec.id} is paused, unpause the container before exec")
    cmd = body.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if not cmd or not isinstance(cmd, list) or not all(isinstance(c, str) for c in cmd):
        raise InvalidArgument("No exec command specified")
    env = body.get("Env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise InvalidArgument("json: cannot unmarshal Env into Go value of type []string")
    eid = new_id()
    engine.execs[eid] = {
        "ID": eid, "Running": False, "ExitCode": None,
        "ProcessConfig": {"tty": bool(body.get("Tty")), "entrypoint": cmd[0],
                          "arguments": cmd[1:], "privileged": bool(body.get("Privileged")),
                          "user": str(body.get("User") or "")},
        "OpenStdin": bool(body.get("AttachStdin")), "OpenStderr": bool(body.get("AttachStderr")),
        "OpenStdout": bool(body.get("AttachStdout")), "CanRemove": False,
        "ContainerID": rec.id, "DetachKeys": str(body.get("DetachKeys") or ""), "Pid": 0,
        "_env": list(env), "_workdir": str(body.get("WorkingDir") or ""), "_started": False,
    }  # fmt: skip
    engine.publish(f"exec_create: {' '.join(cmd)}", rec, execID=eid)
    return eid


def _exec(engine: Engine, eid: str) -> dict[str, Any]:
    ex = engine.execs.get(eid)
    if ex is None:
        raise NotFound(f"No such exec instance: {eid}")
    return ex


def exec_start(
    engine: Engine, eid: str, detach: bool = False, tty: bool | None = None
) -> socket.socket | None:
    """Run an exec instance; its raw stream (None when detached)."""
    ex = _exec(engine, eid)
    if ex["Running"]:
        raise Conflict(f"Exec command {eid} is already running")
    if ex["_started"]:
        raise Conflict(f"Exec command {eid} has already run")
    rec = md.get_container(engine.db, ex["ContainerID"])
    _must_run(rec)
    rootfs = engine.bundle_dir(rec.id) / "rootfs"
    spec = json.loads((engine.bundle_dir(rec.id) / "config.json").read_text())
    proc: dict[str, Any] = dict(spec["process"])
    pc = ex["ProcessConfig"]
    use_tty = bool(pc["tty"] if tty is None else tty)
    proc["args"] = [pc["entrypoint"], *pc["arguments"]]
    proc["terminal"] = use_tty
    env = [e for e in proc.get("env") or [] if not (e.startswith("TERM=") and not use_tty)]
    if use_tty and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    for e in ex["_env"]:
        key = e.split("=", 1)[0]
        env = [x for x in env if x.split("=", 1)[0] != key] + ([e] if "=" in e else [])
    proc["env"] = env
    if ex["_workdir"]:
        proc["cwd"] = ex["_workdir"]
    uid = int(proc.get("user", {}).get("uid", 0))
    if pc["user"]:
        host = HostConfig.from_json(rec.host_config)
        uid, gid, extra = resolve_user(str(rootfs), pc["user"], host.group_add or ())
        proc["user"] = {"uid": uid, "gid": gid, "additionalGids": [gid, *extra]}
    caps = dict(proc.get("capabilities") or {})
    if pc["privileged"]:
        caps = {k: all_capabilities() for k in ("bounding", "effective", "permitted")}
    if uid != 0:
        caps = {"bounding": caps.get("bounding", [])}
    proc["capabilities"] = caps
    attach = None
    if not detach:
        attach = {"stdin": ex["OpenStdin"], "stdout": ex["OpenStdout"], "stderr": ex["OpenStderr"]}
    ex["_started"] = ex["Running"] = True  # before: the exit event may come first
    try:
        pid, sock = engine.monitor.exec(
            rec.id, eid, proc, runtime=engine.runtime_path(rec),
            runtime_root=str(engine.runtime_root(rec.runtime)), tty=use_tty,
            open_stdin=ex["OpenStdin"], attach=attach,
        )  # fmt: skip
    except ContainerExit as exc:
        ex["Running"], ex["ExitCode"] = False, exc.exit_code
        raise
    except HullError:
        ex["Running"] = False
        raise
    ex["Pid"] = pid
    engine.publish(f"exec_start: {' '.join(proc['args'])}", rec, execID=eid)
    return sock


def exec_inspect(engine: Engine, eid: str) -> dict[str, Any]:
    """Docker's ExecInspect."""
    ex = _exec(engine, eid)
    if ex["Running"]:
        for p in engine.monitor.list():
            if p.get("exec_id") == eid and not p.get("running") and p.get("exit_code") is not None:
                ex["Running"], ex["ExitCode"] = False, int(p["exit_code"])
    return {k: v for k, v in ex.items() if not k.startswith("_")}


def exec_resize(engine: Engine, eid: str, height: int, width: int) -> None:
    _exec(engine, eid)
    engine.monitor.resize(exec_id=eid, height=height, width=width)


def logs(
    engine: Engine, ref: str, stdout: bool = True, stderr: bool = True,
    since: float | None = None, until: float | None = None, tail: int | str | None = None,
    timestamps: bool = False, follow: bool = False,
) -> Iterator[tuple[str, bytes]]:  # fmt: skip
    """(stream, bytes) of the json-file log; ``follow`` ends when the container exits."""
    from hull.engine.monitor.logs import read_logs

    rec = engine.find(ref)
    if log_options(HostConfig.from_json(rec.host_config)) is None:
        raise FailedPrecondition("configured logging driver does not support reading")
    want = {s for s, on in (("stdout", stdout), ("stderr", stderr)) if on}
    path = engine.log_path(rec.id)

    def stopped() -> bool:
        try:
            return not _running(md.get_container(engine.db, rec.id))
        except NotFound:
            return True

    def gen() -> Iterator[tuple[str, bytes]]:
        for e in read_logs(path, since=since, until=until, tail=tail, follow=follow,
                           timestamps=timestamps, stopped=stopped):  # fmt: skip
            if e.stream in want:
                yield e.stream, e.log.encode()

    return gen()


def attach(
    engine: Engine, ref: str, stdin: bool = False, stdout: bool = True, stderr: bool = True,
    stream_logs: bool = False,
) -> socket.socket:  # fmt: skip
    """The container's raw stream through the monitor."""
    rec = engine.find(ref)
    return engine.monitor.attach(rec.id, stdin=stdin, stdout=stdout, stderr=stderr,
                                 stream_logs=stream_logs)  # fmt: skip


def resize(engine: Engine, ref: str, height: int, width: int) -> None:
    rec = engine.find(ref)
    _must_run(rec)
    engine.monitor.resize(rec.id, height=height, width=width)


def _pids(engine: Engine, rec: ContainerRecord) -> list[int]:
    from hull.runtime.cgroups import load_cgroup_manager

    return load_cgroup_manager(engine.cgroup_paths(rec)).pids()


def top(engine: Engine, ref: str, ps_args: str = "") -> dict[str, Any]:
    """``ps`` of the host filtered to the container's processes: {Titles, Processes}."""
    rec = engine.find(ref)
    _must_run(rec)
    args = shlex.split(ps_args) if ps_args else ["-ef"]
    res = subprocess.run(["ps", *args], capture_output=True, text=True, timeout=30, check=False)
    if res.returncode != 0:
        raise Internal(f"ps: {res.stderr.strip()}")
    return shapes.parse_ps(res.stdout, set(_pids(engine, rec)))


def _raw_stats(engine: Engine, rec: ContainerRecord) -> dict[str, Any] | None:
    from hull.runtime.cgroups import load_cgroup_manager

    if not _running(rec):
        return None
    try:
        return dict(load_cgroup_manager(engine.cgroup_paths(rec)).stats())
    except (OSError, HullError):
        return None


def stats(engine: Engine, ref: str) -> dict[str, Any]:
    """One Docker stats sample (CPU, memory, pids, block IO from the cgroup)."""
    rec = engine.find(ref)
    return shapes.stats_json(rec, _raw_stats(engine, rec), None)


def stats_stream(engine: Engine, ref: str, interval: float = 1.0) -> Iterator[dict[str, Any]]:
    """A sample every ``interval`` seconds while the container runs (one if it does not)."""
    rec = engine.find(ref)

    def gen() -> Iterator[dict[str, Any]]:
        pre: dict[str, Any] | None = None
        while True:
            try:
                cur = md.get_container(engine.db, rec.id)
            except NotFound:
                return
            sample = shapes.stats_json(cur, _raw_stats(engine, cur), pre)
            yield sample
            if not _running(cur):
                return
            pre = sample
            time.sleep(interval)

    return gen()


def prune(engine: Engine, filters: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """Remove stopped containers matching ``until`` / ``label`` filters."""
    deleted: list[str] = []
    reclaimed = 0
    for rec in md.list_containers(engine.db):
        if rec.state.get("Running") or not shapes.prune_match(rec, dict(filters or {})):
            continue
        with contextlib.suppress(HullError):
            size = engine.images.snapshots.usage(rec.snapshot_key or rec.id).size
            engine.remove(rec.id)
            deleted.append(rec.id)
            reclaimed += size
    return {"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}


__all__ = [
    "ZERO_TIME",
    "AlreadyInState",
    "attach",
    "check_network_mode",
    "default_hostname",
    "exec_create",
    "exec_inspect",
    "exec_resize",
    "exec_start",
    "log_options",
    "logs",
    "make_mounts",
    "new_state",
    "now_rfc3339",
    "parse_api_mount",
    "parse_bind",
    "parse_signal",
    "plan_mounts",
    "prune",
    "public_mounts",
    "resize",
    "resolved_mounts",
    "stats",
    "stats_stream",
    "top",
    "write_network_files",
]
