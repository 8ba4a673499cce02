"""Docker's JSON shapes of containers: inspect, ps, stats, top and diff.

Pure functions of a container record (and, for inspect and ps, the engine
that knows its paths and snapshot); nothing here changes a container.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hull.engine import units
from hull.errors import InvalidArgument, NotFound
from hull.images.inspect import format_time
from hull.metadata import ContainerRecord

if TYPE_CHECKING:
    from hull.engine.engine import Engine

ZERO_TIME = "0001-01-01T00:00:00Z"
STATE_KEYS = ("Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid",
              "ExitCode", "Error", "StartedAt", "FinishedAt")  # fmt: skip
PS_FILTERS = ("ancestor", "before", "exited", "expose", "health", "id", "is-task", "label",
              "name", "network", "publish", "since", "status", "volume")  # fmt: skip
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
# what the runtime creates as mount points and Docker keeps in a hidden init layer
INIT_PATHS = frozenset(("/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv",
                        "/etc/mtab", "/dev/console", "/dev/pts", "/dev/shm"))  # fmt: skip


def now_rfc3339() -> str:
    """The current UTC time with nine fractional digits (Docker's RFC3339Nano)."""
    sec, frac = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def _parse_time(text: str) -> float | None:
    from hull.images.inspect import parse_time

    if not text or text == ZERO_TIME:
        return None
    return parse_time(text)


def public_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """Docker's State object (the engine's private ``_`` keys dropped)."""
    out = {k: state.get(k) for k in STATE_KEYS}
    if state.get("Health"):  # only containers with a healthcheck have one
        out["Health"] = state["Health"]
    return out


def public_mounts(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mount points as ``docker inspect`` shows them."""
    keys = ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation")
    return [{k: mp[k] for k in keys if k in mp} for mp in plan]


def command(cfg: Mapping[str, Any]) -> list[str]:
    """Entrypoint then Cmd of a stored (merged) config."""
    return [*(cfg.get("Entrypoint") or []), *(cfg.get("Cmd") or [])]


def status_text(state: Mapping[str, Any], now: float | None = None) -> str:
    """The STATUS column: "Up 2 seconds", "Exited (0) 3 seconds ago", "Created"..."""
    now = time.time() if now is None else now
    started = _parse_time(str(state.get("StartedAt") or ""))
    finished = _parse_time(str(state.get("FinishedAt") or ""))
    if state.get("Restarting"):
        ago = units.human_duration(now - (finished or now))
        return f"Restarting ({state.get('ExitCode', 0)}) {ago} ago"
    if state.get("Running"):
        up = f"Up {units.human_duration(now - (started or now))}"
        if state.get("Paused"):
            return up + " (Paused)"
        health = (state.get("Health") or {}).get("Status")
        if health == "starting":
            return up + " (health: starting)"
        return f"{up} ({health})" if health in ("healthy", "unhealthy") else up
    if state.get("Status") == "removing":
        return "Removal In Progress"
    if state.get("Dead"):
        return "Dead"
    if started is None:
        return "Created"
    ago = units.human_duration(now - (finished or now))
    return f"Exited ({state.get('ExitCode', 0)}) {ago} ago"


def _graph_driver(engine: Engine, rec: ContainerRecord) -> dict[str, Any]:
    snaps = engine.images.snapshots
    data: dict[str, str] = {}
    try:
        mounts = snaps.mounts(rec.snapshot_key or rec.id)
    except NotFound:
        mounts = []
    for m in mounts:
        for opt in m.options:
            key, eq, value = opt.partition("=")
            name = {"lowerdir": "LowerDir", "upperdir": "UpperDir", "workdir": "WorkDir"}.get(key)
            if eq and name:
                data[name] = value
    if data:
        data["MergedDir"] = str(engine.bundle_dir(rec.id) / "rootfs")
    return {"Data": data or None, "Name": snaps.driver}


def _sizes(engine: Engine, rec: ContainerRecord) -> dict[str, int]:
    try:
        rw = engine.images.snapshots.usage(rec.snapshot_key or rec.id).size
    except NotFound:
        rw = 0
    try:
        from hull.oci.digest import Digest

        base = engine.images.get(Digest.parse(rec.image_id)).size
    except (NotFound, InvalidArgument):
        base = 0
    return {"SizeRw": rw, "SizeRootFs": rw + base}


def container_json(engine: Engine, rec: ContainerRecord, size: bool = False) -> dict[str, Any]:
    """Docker's ContainerJSON (``GET /containers/{id}/json``)."""
    cfg = rec.config
    args = command(cfg)
    cdir = engine.container_dir(rec.id)
    json_file = (rec.host_config.get("LogConfig") or {}).get("Type", "json-file") == "json-file"
    execs = [e for e, x in engine.execs.items() if x["ContainerID"] == rec.id and x["Running"]]
    out: dict[str, Any] = {
        "Id": rec.id,
        "Created": format_time(rec.created),
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": public_state(rec.state),
        "Image": rec.image_id,
        "ResolvConfPath": str(cdir / "resolv.conf"),
        "HostnamePath": str(cdir / "hostname"),
        "HostsPath": str(cdir / "hosts"),
        "LogPath": str(engine.log_path(rec.id)) if json_file else "",
        "Name": "/" + rec.name,
        "RestartCount": rec.restart_count,
        "Driver": engine.images.snapshots.driver,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": execs or None,
        "HostConfig": rec.host_config,
        "GraphDriver": _graph_driver(engine, rec),
    }
    if size:
        out.update(_sizes(engine, rec))
    out["Mounts"] = public_mounts(rec.state.get("_mounts") or [])
    out["Config"] = cfg
    out["NetworkSettings"] = engine.net.settings(rec)
    return out


def summary(engine: Engine, rec: ContainerRecord, size: bool = False) -> dict[str, Any]:
    """One entry of Docker's ``GET /containers/json``."""
    from hull.engine.networking import ps_ports

    settings = engine.net.settings(rec)
    nets = settings["Networks"]
    out: dict[str, Any] = {
        "Id": rec.id,
        "Names": ["/" + rec.name],
        "Image": rec.image_ref,
        "ImageID": rec.image_id,
        "Command": " ".join(command(rec.config)),
        "Created": int(rec.created),
        "Ports": ps_ports(settings),
        "Labels": rec.config.get("Labels") or {},
        "State": rec.state.get("Status", "created"),
        "Status": status_text(rec.state),
        "HostConfig": {"NetworkMode": rec.host_config.get("NetworkMode", "default")},
        "NetworkSettings": {"Networks": nets},
        "Mounts": public_mounts(rec.state.get("_mounts") or []),
    }
    if size:
        out.update(_sizes(engine, rec))
    return out


def _label_match(labels: Mapping[str, str], specs: list[str], negate: bool = False) -> bool:
    for spec in specs:
        k, eq, v = spec.partition("=")
        hit = k in labels and (not eq or labels[k] == v)
        if hit == negate:
            return False
    return True


def _created_of(engine: Engine, ref: str) -> float:
    from hull import metadata as md

    return md.find_container(engine.db, ref).created


def _ancestors(engine: Engine, refs: list[str]) -> set[str]:
    ids = set()
    for ref in refs:
        try:
            ids.add(str(engine.images.resolve(ref).id))
        except (NotFound, InvalidArgument):
            continue
    return ids


def _matches(
    engine: Engine, rec: ContainerRecord, f: dict[str, list[str]], ancestors: set[str]
) -> bool:
    st = rec.state
    if "id" in f and not any(rec.id.startswith(v) for v in f["id"]):
        return False
    if "name" in f and not any(re.search(v.lstrip("/"), rec.name) for v in f["name"]):
        return False
    if "label" in f and not _label_match(rec.config.get("Labels") or {}, f["label"]):
        return False
    if "status" in f:
        for v in f["status"]:
            if v not in STATUSES:
                raise InvalidArgument(f"invalid filter 'status={v}'")
        if st.get("Status") not in f["status"]:
            return False
    if "exited" in f and (
        st.get("Status") != "exited" or str(st.get("ExitCode")) not in f["exited"]
    ):
        return False
    if "ancestor" in f and rec.image_id not in ancestors and rec.image_ref not in f["ancestor"]:
        return False
    if "before" in f and not all(rec.created < _created_of(engine, v) for v in f["before"]):
        return False
    if "since" in f and not all(rec.created > _created_of(engine, v) for v in f["since"]):
        return False
    if "volume" in f:
        mounts = rec.state.get("_mounts") or []
        names = {m.get("Name") for m in mounts} | {m["Destination"] for m in mounts}
        if not any(v in names for v in f["volume"]):
            return False
    if "health" in f:
        for v in f["health"]:
            if v not in ("starting", "healthy", "unhealthy", "none"):
                raise InvalidArgument(f"Unrecognised filter value for health: {v}")
        if (st.get("Health") or {}).get("Status", "none") not in f["health"]:
            return False
    if "network" in f:
        nets = rec.network_settings.get("Networks") or {}
        if not any(v in nets for v in f["network"]):
            return False
    return not ("publish" in f or "expose" in f)


def list_containers(
    engine: Engine, *, all: bool, filters: dict[str, list[str]], limit: int, size: bool
) -> list[dict[str, Any]]:
    """Docker's ps: newest first; ``status`` filters and ``limit`` imply ``all``."""
    from hull import metadata as md

    for key in filters:
        if key not in PS_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
    if filters.get("is-task") == ["true"]:
        return []
    filters = {k: v for k, v in filters.items() if k != "is-task"}
    all = all or "status" in filters or limit > 0
    ancestors = _ancestors(engine, filters.get("ancestor", []))
    out = []
    for rec in md.list_containers(engine.db):
        if not all and not rec.state.get("Running"):
            continue
        if not _matches(engine, rec, filters, ancestors):
            continue
        out.append(summary(engine, rec, size))
        if 0 < limit <= len(out):
            break
    return out


def _until(value: str, now: float) -> float:
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    parsed = _parse_time(value)
    if parsed is not None:
        return parsed
    return now - units.parse_duration(value) / 1e9


def prune_match(rec: ContainerRecord, filters: dict[str, list[str]]) -> bool:
    """Whether a stopped container matches ``container prune`` filters (until, label, label!)."""
    for key in filters:
        if key not in ("until", "label", "label!"):
            raise InvalidArgument(f"invalid filter '{key}'")
    now = time.time()
    if "until" in filters and not all(rec.created < _until(v, now) for v in filters["until"]):
        return False
    labels = rec.config.get("Labels") or {}
    if "label" in filters and not _label_match(labels, filters["label"]):
        return False
    return not ("label!" in filters and not _label_match(labels, filters["label!"], negate=True))


# -- top, diff ----------------------------------------------------------------------


def parse_ps(output: str, pids: set[int]) -> dict[str, Any]:
    """``ps`` output filtered to ``pids``: Docker's ``{"Titles", "Processes"}``."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    if not lines:
        raise InvalidArgument("ps: no output")
    titles = lines[0].split()
    try:
        col = titles.index("PID")
    except ValueError:
        raise InvalidArgument("Couldn't find PID field in ps output") from None
    procs = []
    for line in lines[1:]:
        fields = line.split()
        if len(fields) <= col or not fields[col].isdigit() or int(fields[col]) not in pids:
            continue
        n = len(titles)
        procs.append([*fields[: n - 1], " ".join(fields[n - 1 :])])
    return {"Titles": titles, "Processes": procs}


def classify_changes(names: list[str], in_lower: Callable[[str], bool]) -> list[dict[str, Any]]:
    """Docker's changes from a layer tar's names: Kind 0 modified, 1 added, 2 deleted."""
    entries: dict[str, int] = {}
    for name in names:
        path = "/" + name.strip("/").removeprefix("./")
        if path == "/":
            continue
        parent, _, base = path.rpartition("/")
        if base == ".wh..wh..opq":
            continue
        if base.startswith(".wh."):
            entries[f"{parent}/{base[4:]}"] = 2
        else:
            entries[path] = 0 if in_lower(path) else 1
    hidden = {p for p in entries if p in INIT_PATHS}
    for p in hidden:
        del entries[p]
    for p in sorted(entries, reverse=True):  # dirs only copied up for a hidden mount point
        under = p + "/"
        if (entries[p] == 0 and any(h.startswith(under) for h in hidden)
                and not any(q.startswith(under) for q in entries)):  # fmt: skip
            del entries[p]
    return [{"Path": p, "Kind": k} for p, k in sorted(entries.items())]


# -- stats --------------------------------------------------------------------------


def _system_cpu_ns() -> int:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()[1:9]
    except OSError:
        return 0
    hz = os.sysconf("SC_CLK_TCK") or 100
    return sum(int(x) for x in fields) * 1_000_000_000 // hz


def _host_memory() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _zero_cpu() -> dict[str, Any]:
    return {
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def _blkio(entries: Any) -> list[dict[str, Any]] | None:
    if not entries:
        return None
    return [{"major": e["major"], "minor": e["minor"], "op": e["op"], "value": e["value"]}
            for e in entries]  # fmt: skip


def stats_json(
    rec: ContainerRecord, raw: Mapping[str, Any] | None, pre: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Docker's stats JSON from runc-shaped cgroup stats (``raw`` None: not running)."""
    out: dict[str, Any] = {
        "name": "/" + rec.name,
        "id": rec.id,
        "read": now_rfc3339(),
        "preread": pre["read"] if pre else ZERO_TIME,
        "num_procs": 0,
        "storage_stats": {},
        "precpu_stats": pre["cpu_stats"] if pre else _zero_cpu(),
    }
    if raw is None:
        out.update({"pids_stats": {}, "memory_stats": {}, "cpu_stats": _zero_cpu(),
                    "blkio_stats": {k: None for k in _BLKIO_KEYS}})  # fmt: skip
        return out
    cpu = raw.get("cpu") or {}
    usage = cpu.get("usage") or {}
    thr = cpu.get("throttling") or {}
    cpu_usage: dict[str, Any] = {"total_usage": usage.get("total", 0),
                                 "usage_in_kernelmode": usage.get("kernel", 0),
                                 "usage_in_usermode": usage.get("user", 0)}  # fmt: skip
    if usage.get("percpu"):
        cpu_usage["percpu_usage"] = usage["percpu"]
    out["cpu_stats"] = {
        "cpu_usage": cpu_usage,
        "system_cpu_usage": _system_cpu_ns(),
        "online_cpus": len(usage.get("percpu") or []) or os.cpu_count() or 1,
        "throttling_data": {"periods": thr.get("periods", 0),
                            "throttled_periods": thr.get("throttledPeriods", 0),
                            "throttled_time": thr.get("throttledTime", 0)},
    }  # fmt: skip
    mem = raw.get("memory") or {}
    mu = mem.get("usage") or {}
    host_mem = _host_memory()
    limit = int(mu.get("limit") or 0)
    if host_mem and (limit <= 0 or limit > host_mem):
        limit = host_mem
    out["memory_stats"] = {"usage": mu.get("usage", 0), "max_usage": mu.get("max", 0),
                           "stats": dict(mem.get("raw") or {}), "failcnt": mu.get("failcnt", 0),
                           "limit": limit} if mem else {}  # fmt: skip
    pids = raw.get("pids") or {}
    out["pids_stats"] = {"current": pids.get("current", 0)}
    if pids.get("limit"):
        out["pids_stats"]["limit"] = pids["limit"]
    blk = raw.get("blkio") or {}
    out["blkio_stats"] = {k: _blkio(blk.get(src)) for k, src in _BLKIO_KEYS.items()}
    return out


_BLKIO_KEYS = {
    "io_service_bytes_recursive": "ioServiceBytesRecursive",
    "io_serviced_recursive": "ioServicedRecursive",
    "io_queue_recursive": "ioQueuedRecursive",
    "io_service_time_recursive": "ioServiceTimeRecursive",
    "io_wait_time_recursive": "ioWaitTimeRecursive",
    "io_merged_recursive": "ioMergedRecursive",
    "io_time_recursive": "ioTimeRecursive",
    "sectors_recursive": "sectorsRecursive",
}


__all__ = [
    "INIT_PATHS",
    "ZERO_TIME",
    "classify_changes",
    "command",
    "container_json",
    "list_containers",
    "now_rfc3339",
    "parse_ps",
    "prune_match",
    "public_mounts",
    "public_state",
    "stats_json",
    "status_text",
    "summary",
]
