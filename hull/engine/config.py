"""Docker's container create request (API 1.43) as typed values.

Owns ``ContainerConfig`` (the ``Config`` part of ``POST /containers/create``)
and ``HostConfig`` with their nested objects; ``from_json`` parsing with
Docker's field names, ``to_json`` in Docker's inspect shape (every field of
``HostConfig``, zero values included, in the Go struct's order); the merge of
an image's defaults into a request and the daemon's create defaults are in
:mod:`hull.engine.defaults`. The
checks Docker makes at create (``validate``) are :mod:`hull.engine.validation`,
re-exported here.

Parsing reads each field as Go's ``encoding/json`` would: key names match
case-insensitively, ``null`` leaves the zero value, unknown keys are ignored,
and a wrong type is an ``InvalidArgument`` naming the field the way Go does:
"json: cannot unmarshal string into Go struct field HostConfig.Memory of type
int64". List fields keep ``None`` apart from ``()`` (Docker tells ``null``
from ``[]``: ``"Entrypoint": []`` clears the image's entrypoint).

The fields are declared once, with their JSON name and Go type in the
dataclass field metadata; one generic decoder and encoder serve them all.
"""

# ruff: noqa: RUF009  (dataclass fields come from _f(), which wraps dataclasses.field)
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hull.engine.validation import (
    MIN_MEMORY,
    RESTART_POLICIES,
    normalize_capabilities,
    parse_uint_list,
    validate,
)
from hull.errors import InvalidArgument

T = TypeVar("T")

# -- the declarative field machinery ---------------------------------------------


def _f(name: str, go: str, default: Any = None, *, omit: bool = False, cls: Any = None) -> Any:
    """A dataclass field read from and written to JSON key ``name`` as Go type ``go``."""
    md = {"j": name, "go": go, "omit": omit, "cls": cls}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=md)
    return field(default=default, metadata=md)


_INT_RANGES = {
    "int64": (-(1 << 63), (1 << 63) - 1),
    "*int64": (-(1 << 63), (1 << 63) - 1),
    "int": (-(1 << 63), (1 << 63) - 1),
    "*int": (-(1 << 63), (1 << 63) - 1),
    "uint16": (0, 0xFFFF),
    "uint32": (0, 0xFFFFFFFF),
    "uint64": (0, (1 << 64) - 1),
}


def _jtype(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return f"number {v}" if isinstance(v, int) else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _bad(v: Any, where: str, go: str) -> InvalidArgument:
    jt = _jtype(v)
    if jt.startswith("number ") and go not in _INT_RANGES:
        jt = "number"
    return InvalidArgument(f"json: cannot unmarshal {jt} into Go struct field {where} of type {go}")


def _strings(v: Any, where: str, go: str) -> tuple[str, ...]:
    if not isinstance(v, list):
        raise _bad(v, where, go)
    for s in v:
        if not isinstance(s, str):
            raise _bad(s, where, "string")
    return tuple(v)


def _value(md: dict[str, Any], v: Any, where: str) -> Any:
    go: str = md["go"]
    if go in _INT_RANGES:
        lo, hi = _INT_RANGES[go]
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise _bad(v, where, go.lstrip("*"))
        return v
    if go in ("string", "bool", "*bool"):
        want = str if go == "string" else bool
        if not isinstance(v, want):
            raise _bad(v, where, go.lstrip("*"))
        return v
    if go == "[]string":
        return _strings(v, where, go)
    if go == "strslice.StrSlice":  # a string stands for a one-element list
        return (v,) if isinstance(v, str) else _strings(v, where, go)
    if go == "map[string]string":
        if not isinstance(v, dict):
            raise _bad(v, where, go)
        for k, s in v.items():
            if not isinstance(s, str):
                raise _bad(s, f"{where}[{k}]", "string")
        return dict(v)
    if go == "map[string]struct{}":
        if not isinstance(v, dict):
            raise _bad(v, where, go)
        for k, s in v.items():
            if s is not None and not isinstance(s, dict):
                raise _bad(s, f"{where}[{k}]", "struct {}")
        return tuple(v)
    if go == "[2]uint":
        if not isinstance(v, list) or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in v
        ):
            raise _bad(v, where, go)
        return (*list(v[:2]), 0, 0)[:2]
    if go == "nat.PortMap":
        if not isinstance(v, dict):
            raise _bad(v, where, go)
        out: dict[str, tuple[PortBinding, ...] | None] = {}
        for port, bindings in v.items():
            if bindings is None:
                out[port] = None
            elif not isinstance(bindings, list):
                raise _bad(bindings, f"{where}[{port}]", "[]nat.PortBinding")
            else:
                out[port] = tuple(_decode(PortBinding, b, f"{where}[{port}]") for b in bindings)
        return out
    if go == "raw":
        return v
    cls = md["cls"]
    if go.startswith("[]"):
        if not isinstance(v, list):
            raise _bad(v, where, go)
        return tuple(_decode(cls, x, where) for x in v)
    return _decode(cls, v, where)


def _decode(cls: type[T], obj: Any, where: str) -> T:
    if not isinstance(obj, dict):
        raise _bad(obj, where, f"container.{cls.__name__}")
    lower = {k.lower(): k for k in obj}
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        md = f.metadata
        key = md["j"]
        if key not in obj:
            key = lower.get(key.lower(), key)
        v = obj.get(key)
        if v is None:
            continue
        kwargs[f.name] = _value(dict(md), v, f"{where}.{md['j']}")
    return cls(**kwargs)


def _encode_value(go: str, v: Any) -> Any:
    if v is None:
        return None
    if go in ("[]string", "strslice.StrSlice", "[2]uint"):
        return list(v)
    if go == "map[string]struct{}":
        return {k: {} for k in v}
    if go == "map[string]string":
        return dict(v)
    if go == "nat.PortMap":
        return {p: None if b is None else [_encode(x) for x in b] for p, b in v.items()}
    if go.startswith("[]"):
        return [_encode(x) for x in v]
    if dataclasses.is_dataclass(v):
        return _encode(v)
    return v


def _encode(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        md = f.metadata
        v = getattr(obj, f.name)
        if md["omit"] and (v is None or v == "" or v == 0 or v is False or v == () or v == {}):
            continue
        out[md["j"]] = _encode_value(md["go"], v)
    return out


class _JSON:
    """``from_json`` / ``to_json`` for a dataclass declared with ``_f`` fields."""

    @classmethod
    def from_json(cls: type[T], obj: Any, *, where: str | None = None) -> T:
        """Parse a decoded JSON object as Go's ``encoding/json`` would."""
        return _decode(cls, obj, where or cls.__name__)

    def to_json(self) -> dict[str, Any]:
        """Docker's JSON object (inspect shape)."""
        return _encode(self)


# -- nested objects -------------------------------------------------------------------


@dataclass(frozen=True)
class HealthConfig(_JSON):
    """A healthcheck; durations in nanoseconds."""

    test: tuple[str, ...] | None = _f("Test", "[]string", omit=True)
    interval: int = _f("Interval", "int64", 0, omit=True)
    timeout: int = _f("Timeout", "int64", 0, omit=True)
    start_period: int = _f("StartPeriod", "int64", 0, omit=True)
    start_interval: int = _f("StartInterval", "int64", 0, omit=True)
    retries: int = _f("Retries", "int", 0, omit=True)


@dataclass(frozen=True)
class PortBinding(_JSON):
    host_ip: str = _f("HostIp", "string", "")
    host_port: str = _f("HostPort", "string", "")


@dataclass(frozen=True)
class LogConfig(_JSON):
    type: str = _f("Type", "string", "")
    config: dict[str, str] = _f("Config", "map[string]string", {})


@dataclass(frozen=True)
class RestartPolicy(_JSON):
    name: str = _f("Name", "string", "")
    maximum_retry_count: int = _f("MaximumRetryCount", "int", 0)


@dataclass(frozen=True)
class BindOptions(_JSON):
    propagation: str = _f("Propagation", "string", "", omit=True)
    non_recursive: bool = _f("NonRecursive", "bool", False, omit=True)
    create_mountpoint: bool = _f("CreateMountpoint", "bool", False, omit=True)
    read_only_non_recursive: bool = _f("ReadOnlyNonRecursive", "bool", False, omit=True)
    read_only_force_recursive: bool = _f("ReadOnlyForceRecursive", "bool", False, omit=True)


@dataclass(frozen=True)
class Driver(_JSON):
    name: str = _f("Name", "string", "", omit=True)
    options: dict[str, str] = _f("Options", "map[string]string", {}, omit=True)


@dataclass(frozen=True)
class VolumeOptions(_JSON):
    no_copy: bool = _f("NoCopy", "bool", False, omit=True)
    labels: dict[str, str] = _f("Labels", "map[string]string", {}, omit=True)
    subpath: str = _f("Subpath", "string", "", omit=True)
    driver_config: Driver | None = _f("DriverConfig", "mount.Driver", omit=True, cls=Driver)


@dataclass(frozen=True)
class TmpfsOptions(_JSON):
    size_bytes: int = _f("SizeBytes", "int64", 0, omit=True)
    mode: int = _f("Mode", "uint32", 0, omit=True)


@dataclass(frozen=True)
class Mount(_JSON):
    """One ``--mount``: ``bind``, ``volume`` or ``tmpfs``."""

    type: str = _f("Type", "string", "", omit=True)
    source: str = _f("Source", "string", "", omit=True)
    target: str = _f("Target", "string", "", omit=True)
    read_only: bool = _f("ReadOnly", "bool", False, omit=True)
    consistency: str = _f("Consistency", "string", "", omit=True)
    bind_options: BindOptions | None = _f(
        "BindOptions", "mount.BindOptions", omit=True, cls=BindOptions
    )
    volume_options: VolumeOptions | None = _f(
        "VolumeOptions", "mount.VolumeOptions", omit=True, cls=VolumeOptions
    )
    tmpfs_options: TmpfsOptions | None = _f(
        "TmpfsOptions", "mount.TmpfsOptions", omit=True, cls=TmpfsOptions
    )


@dataclass(frozen=True)
class DeviceMapping(_JSON):
    path_on_host: str = _f("PathOnHost", "string", "")
    path_in_container: str = _f("PathInContainer", "string", "")
    cgroup_permissions: str = _f("CgroupPermissions", "string", "")


@dataclass(frozen=True)
class WeightDevice(_JSON):
    path: str = _f("Path", "string", "")
    weight: int = _f("Weight", "uint16", 0)


@dataclass(frozen=True)
class ThrottleDevice(_JSON):
    path: str = _f("Path", "string", "")
    rate: int = _f("Rate", "uint64", 0)


@dataclass(frozen=True)
class Ulimit(_JSON):
    name: str = _f("Name", "string", "")
    hard: int = _f("Hard", "int64", 0)
    soft: int = _f("Soft", "int64", 0)


# -- Config and HostConfig ----------------------------------------------------------


@dataclass(frozen=True)
class ContainerConfig(_JSON):
    """The ``Config`` of a container: what is portable between hosts."""

    hostname: str = _f("Hostname", "string", "")
    domainname: str = _f("Domainname", "string", "")
    user: str = _f("User", "string", "")
    attach_stdin: bool = _f("AttachStdin", "bool", False)
    attach_stdout: bool = _f("AttachStdout", "bool", False)
    attach_stderr: bool = _f("AttachStderr", "bool", False)
    exposed_ports: tuple[str, ...] | None = _f("ExposedPorts", "map[string]struct{}", omit=True)
    tty: bool = _f("Tty", "bool", False)
    open_stdin: bool = _f("OpenStdin", "bool", False)
    stdin_once: bool = _f("StdinOnce", "bool", False)
    env: tuple[str, ...] | None = _f("Env", "[]string")
    cmd: tuple[str, ...] | None = _f("Cmd", "strslice.StrSlice")
    healthcheck: HealthConfig | None = _f(
        "Healthcheck", "container.HealthConfig", omit=True, cls=HealthConfig
    )
    args_escaped: bool = _f("ArgsEscaped", "bool", False, omit=True)
    image: str = _f("Image", "string", "")
    volumes: tuple[str, ...] | None = _f("Volumes", "map[string]struct{}")
    working_dir: str = _f("WorkingDir", "string", "")
    entrypoint: tuple[str, ...] | None = _f("Entrypoint", "strslice.StrSlice")
    network_disabled: bool = _f("NetworkDisabled", "bool", False, omit=True)
    mac_address: str = _f("MacAddress", "string", "", omit=True)
    on_build: tuple[str, ...] | None = _f("OnBuild", "[]string")
    labels: dict[str, str] = _f("Labels", "map[string]string", {})
    stop_signal: str = _f("StopSignal", "string", "", omit=True)
    stop_timeout: int | None = _f("StopTimeout", "*int", omit=True)
    shell: tuple[str, ...] | None = _f("Shell", "strslice.StrSlice", omit=True)

    @classmethod
    def from_json(cls, obj: Any, *, where: str | None = None) -> ContainerConfig:
        return _decode(cls, obj, where or "Config")


def _list(name: str, go: str, cls: Any) -> Any:
    return _f(name, go, cls=cls)


@dataclass(frozen=True)
class HostConfig(_JSON):
    """The ``HostConfig`` of a container: what depends on the host."""

    binds: tuple[str, ...] | None = _f("Binds", "[]string")
    container_id_file: str = _f("ContainerIDFile", "string", "")
    log_config: LogConfig = _f("LogConfig", "container.LogConfig", LogConfig(), cls=LogConfig)
    network_mode: str = _f("NetworkMode", "string", "")
    port_bindings: dict[str, tuple[PortBinding, ...] | None] = _f("PortBindings", "nat.PortMap", {})
    restart_policy: RestartPolicy = _f(
        "RestartPolicy", "container.RestartPolicy", RestartPolicy(), cls=RestartPolicy
    )
    auto_remove: bool = _f("AutoRemove", "bool", False)
    volume_driver: str = _f("VolumeDriver", "string", "")
    volumes_from: tuple[str, ...] | None = _f("VolumesFrom", "[]string")
    console_size: tuple[int, int] = _f("ConsoleSize", "[2]uint", (0, 0))
    annotations: dict[str, str] = _f("Annotations", "map[string]string", {}, omit=True)
    cap_add: tuple[str, ...] | None = _f("CapAdd", "strslice.StrSlice")
    cap_drop: tuple[str, ...] | None = _f("CapDrop", "strslice.StrSlice")
    cgroupns_mode: str = _f("CgroupnsMode", "string", "")
    dns: tuple[str, ...] | None = _f("Dns", "[]string")
    dns_options: tuple[str, ...] | None = _f("DnsOptions", "[]string")
    dns_search: tuple[str, ...] | None = _f("DnsSearch", "[]string")
    extra_hosts: tuple[str, ...] | None = _f("ExtraHosts", "[]string")
    group_add: tuple[str, ...] | None = _f("GroupAdd", "[]string")
    ipc_mode: str = _f("IpcMode", "string", "")
    cgroup: str = _f("Cgroup", "string", "")
    links: tuple[str, ...] | None = _f("Links", "[]string")
    oom_score_adj: int = _f("OomScoreAdj", "int", 0)
    pid_mode: str = _f("PidMode", "string", "")
    privileged: bool = _f("Privileged", "bool", False)
    publish_all_ports: bool = _f("PublishAllPorts", "bool", False)
    readonly_rootfs: bool = _f("ReadonlyRootfs", "bool", False)
    security_opt: tuple[str, ...] | None = _f("SecurityOpt", "[]string")
    storage_opt: dict[str, str] = _f("StorageOpt", "map[string]string", {}, omit=True)
    tmpfs: dict[str, str] = _f("Tmpfs", "map[string]string", {}, omit=True)
    uts_mode: str = _f("UTSMode", "string", "")
    userns_mode: str = _f("UsernsMode", "string", "")
    shm_size: int = _f("ShmSize", "int64", 0)
    sysctls: dict[str, str] = _f("Sysctls", "map[string]string", {}, omit=True)
    runtime: str = _f("Runtime", "string", "", omit=True)
    isolation: str = _f("Isolation", "string", "")
    # Resources (embedded in Go: its fields sit at this level)
    cpu_shares: int = _f("CpuShares", "int64", 0)
    memory: int = _f("Memory", "int64", 0)
    nano_cpus: int = _f("NanoCpus", "int64", 0)
    cgroup_parent: str = _f("CgroupParent", "string", "")
    blkio_weight: int = _f("BlkioWeight", "uint16", 0)
    blkio_weight_device: tuple[WeightDevice, ...] | None = _list(
        "BlkioWeightDevice", "[]*blkiodev.WeightDevice", WeightDevice
    )
    blkio_device_read_bps: tuple[ThrottleDevice, ...] | None = _list(
        "BlkioDeviceReadBps", "[]*blkiodev.ThrottleDevice", ThrottleDevice
    )
    blkio_device_write_bps: tuple[ThrottleDevice, ...] | None = _list(
        "BlkioDeviceWriteBps", "[]*blkiodev.ThrottleDevice", ThrottleDevice
    )
    blkio_device_read_iops: tuple[ThrottleDevice, ...] | None = _list(
        "BlkioDeviceReadIOps", "[]*blkiodev.ThrottleDevice", ThrottleDevice
    )
    blkio_device_write_iops: tuple[ThrottleDevice, ...] | None = _list(
        "BlkioDeviceWriteIOps", "[]*blkiodev.ThrottleDevice", ThrottleDevice
    )
    cpu_period: int = _f("CpuPeriod", "int64", 0)
    cpu_quota: int = _f("CpuQuota", "int64", 0)
    cpu_realtime_period: int = _f("CpuRealtimePeriod", "int64", 0)
    cpu_realtime_runtime: int = _f("CpuRealtimeRuntime", "int64", 0)
    cpuset_cpus: str = _f("CpusetCpus", "string", "")
    cpuset_mems: str = _f("CpusetMems", "string", "")
    devices: tuple[DeviceMapping, ...] | None = _list(
        "Devices", "[]container.DeviceMapping", DeviceMapping
    )
    device_cgroup_rules: tuple[str, ...] | None = _f("DeviceCgroupRules", "[]string")
    device_requests: Any = _f("DeviceRequests", "raw")
    memory_reservation: int = _f("MemoryReservation", "int64", 0)
    memory_swap: int = _f("MemorySwap", "int64", 0)
    memory_swappiness: int | None = _f("MemorySwappiness", "*int64")
    oom_kill_disable: bool | None = _f("OomKillDisable", "*bool")
    pids_limit: int | None = _f("PidsLimit", "*int64")
    ulimits: tuple[Ulimit, ...] | None = _list("Ulimits", "[]*container.Ulimit", Ulimit)
    cpu_count: int = _f("CpuCount", "int64", 0)
    cpu_percent: int = _f("CpuPercent", "int64", 0)
    io_maximum_iops: int = _f("IOMaximumIOps", "uint64", 0)
    io_maximum_bandwidth: int = _f("IOMaximumBandwidth", "uint64", 0)
    # back at the HostConfig level
    mounts: tuple[Mount, ...] | None = _list("Mounts", "[]mount.Mount", Mount)
    masked_paths: tuple[str, ...] | None = _f("MaskedPaths", "[]string")
    readonly_paths: tuple[str, ...] | None = _f("ReadonlyPaths", "[]string")
    init: bool | None = _f("Init", "*bool", omit=True)

    def to_json(self) -> dict[str, Any]:
        out = _encode(self)
        # Go's omitempty skips a false *bool only when nil: Init=false is shown.
        if self.init is False:
            out["Init"] = False
        return out


@dataclass(frozen=True)
class CreateRequest:
    """The whole body of ``POST /containers/create``."""

    config: ContainerConfig
    host_config: HostConfig
    networking_config: Any = None


def parse_create_body(body: Any) -> CreateRequest:
    """Split a decoded create body into its Config, HostConfig and NetworkingConfig."""
    if not isinstance(body, dict):
        raise InvalidArgument(
            f"json: cannot unmarshal {_jtype(body)} into Go value of type container.Config"
        )
    host = body.get("HostConfig")
    return CreateRequest(
        config=ContainerConfig.from_json(body),
        host_config=HostConfig() if host is None else HostConfig.from_json(host),
        networking_config=body.get("NetworkingConfig"),
    )


__all__ = [
    "MIN_MEMORY",
    "RESTART_POLICIES",
    "BindOptions",
    "ContainerConfig",
    "CreateRequest",
    "DeviceMapping",
    "Driver",
    "HealthConfig",
    "HostConfig",
    "LogConfig",
    "Mount",
    "PortBinding",
    "RestartPolicy",
    "ThrottleDevice",
    "TmpfsOptions",
    "Ulimit",
    "VolumeOptions",
    "WeightDevice",
    "normalize_capabilities",
    "parse_create_body",
    "parse_uint_list",
    "validate",
]
