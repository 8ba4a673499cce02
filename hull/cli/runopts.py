"""``docker run``/``docker create`` flags → the ``POST /containers/create`` request.

    p = argparse.ArgumentParser(add_help=False); add_run_flags(p)
    req = build(p.parse_args(argv))      # CreateRequest(name, platform, body)
    client.post("/containers/create", params=req.params(), json=req.body)

The body is ``Config`` + ``HostConfig`` + ``NetworkingConfig`` as the
docker CLI's ``opts.go`` ``parse()`` builds it: Go zero values included
(nil lists as ``null``), ``Dns*`` never null, ``NetworkMode`` "default"
when no ``--network``, bind mounts in ``Binds`` and anonymous volumes in
``Config.Volumes``, ports by ``nat.ParsePortSpecs``, sizes by
``RAMInBytes``, ``--security-opt seccomp=FILE`` replaced by the file's
compacted JSON. Bad values raise ``UsageError`` with the docker CLI's
message (the caller exits 125).
"""

from __future__ import annotations

import argparse

from hull.engine.units import parse_duration
from hull.errors import InvalidArgument

from .errors import UsageError
from .runvalues import (
    PROG,
    _bad,
    _env,
    _labels,
    _size,
    _throttle,
    _ulimits,
    _valid_ip,
    _weight_devices,
    parse_device,
    parse_mount,
    parse_ports,
    read_kv_file,
    split_volume,
)

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CreateRequest:
    """What ``create``/``run`` send: query parameters and the JSON body."""

    # a plain class: dataclasses costs 5 ms of imports on every ``hull run``
    def __init__(
        self,
        body: dict[str, Any],
        name: str = "",
        platform: str = "",
        pull: str = "missing",
        flags: set[str] | None = None,
    ) -> None:
        self.body = body
        self.name = name
        self.platform = platform
        self.pull = pull
        self.flags = set() if flags is None else flags

    def params(self) -> dict[str, str]:
        out = {}
        if self.name:
            out["name"] = self.name
        if self.platform:
            out["platform"] = self.platform
        return out


# -- flags -------------------------------------------------------------------------------


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """Every ``docker create`` flag hull knows (``run`` adds -d, --rm's twins, --sig-proxy)."""
    a = p.add_argument
    a("--help", action="help", help="print usage")
    a("-a", "--attach", action="append", default=[], help="attach to STDIN, STDOUT or STDERR")
    a("--add-host", action="append", default=[], help="add a custom host-to-IP mapping (host:ip)")
    a("--blkio-weight", type=int, default=0, help="block IO weight (10-1000)")
    a(
        "--blkio-weight-device",
        action="append",
        default=[],
        help="block IO weight (relative device weight)",
    )
    a("--cap-add", action="append", default=[], help="add Linux capabilities")
    a("--cap-drop", action="append", default=[], help="drop Linux capabilities")
    a("--cgroup-parent", default="", help="optional parent cgroup for the container")
    a("--cgroupns", default="", help="cgroup namespace to use (host|private)")
    a("--cidfile", default="", help="write the container ID to the file")
    a("--cpu-period", type=int, default=0, help="limit CPU CFS period")
    a("--cpu-quota", type=int, default=0, help="limit CPU CFS quota")
    a("--cpu-rt-period", type=int, default=0, help="limit CPU real-time period")
    a("--cpu-rt-runtime", type=int, default=0, help="limit CPU real-time runtime")
    a("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)")
    a("--cpus", default="", help="number of CPUs")
    a("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    a("--cpuset-mems", default="", help="MEMs in which to allow execution (0-3, 0,1)")
    a("--device", action="append", default=[], help="add a host device to the container")
    a(
        "--device-cgroup-rule",
        action="append",
        default=[],
        help="add a rule to the cgroup allowed devices list",
    )
    a(
        "--device-read-bps",
        action="append",
        default=[],
        help="limit read rate (bytes per second) from a device",
    )
    a(
        "--device-read-iops",
        action="append",
        default=[],
        help="limit read rate (IO per second) from a device",
    )
    a(
        "--device-write-bps",
        action="append",
        default=[],
        help="limit write rate (bytes per second) to a device",
    )
    a(
        "--device-write-iops",
        action="append",
        default=[],
        help="limit write rate (IO per second) to a device",
    )
    a("--dns", action="append", default=[], help="set custom DNS servers")
    a("--dns-option", "--dns-opt", action="append", default=[], help="set DNS options")
    a("--dns-search", action="append", default=[], help="set custom DNS search domains")
    a("--domainname", default="", help="container NIS domain name")
    a("--entrypoint", default=None, help="overwrite the default ENTRYPOINT of the image")
    a("-e", "--env", action="append", default=[], help="set environment variables")
    a("--env-file", action="append", default=[], help="read in a file of environment variables")
    a("--expose", action="append", default=[], help="expose a port or a range of ports")
    a("--group-add", action="append", default=[], help="add additional groups to join")
    a("--health-cmd", default="", help="command to run to check health")
    a("--health-interval", default="0s", help="time between running the check")
    a("--health-retries", type=int, default=0, help="consecutive failures needed")
    a("--health-start-period", default="0s", help="start period for the container")
    a("--health-timeout", default="0s", help="maximum time to allow one check to run")
    a("-h", "--hostname", default="", help="container host name")
    a("--init", action="store_true", default=None, help="run an init inside the container")
    a("-i", "--interactive", action="store_true", help="keep STDIN open even if not attached")
    a("--ip", default="", help="IPv4 address")
    a("--ip6", default="", help="IPv6 address")
    a("--ipc", default="", help="IPC mode to use")
    a("--isolation", default="", help="container isolation technology")
    a("--kernel-memory", default="", help="kernel memory limit")
    a("-l", "--label", action="append", default=[], help="set meta data on a container")
    a("--label-file", action="append", default=[], help="read in a line delimited file of labels")
    a("--link", action="append", default=[], help="add link to another container")
    a("--log-driver", default="", help="logging driver for the container")
    a("--log-opt", action="append", default=[], help="log driver options")
    a("--mac-address", default="", help="container MAC address")
    a("-m", "--memory", default="", help="memory limit")
    a("--memory-reservation", default="", help="memory soft limit")
    a("--memory-swap", default="", help="swap limit equal to memory plus swap: -1 unlimited")
    a("--memory-swappiness", type=int, default=-1, help="tune container memory swappiness")
    a("--mount", action="append", default=[], help="attach a filesystem mount to the container")
    a("--name", default="", help="assign a name to the container")
    a("--network", "--net", default="", help="connect a container to a network")
    a(
        "--network-alias",
        "--net-alias",
        action="append",
        default=[],
        help="add network-scoped alias",
    )
    a("--no-healthcheck", action="store_true", help="disable any container-specified HEALTHCHECK")
    a("--oom-kill-disable", action="store_true", help="disable OOM Killer")
    a("--oom-score-adj", type=int, default=0, help="tune host's OOM preferences")
    a("--pid", default="", help="PID namespace to use")
    a("--pids-limit", type=int, default=0, help="tune container pids limit (-1 unlimited)")
    a("--platform", default="", help="set platform if server is multi-platform capable")
    a("--privileged", action="store_true", help="give extended privileges to this container")
    a(
        "-p",
        "--publish",
        action="append",
        default=[],
        help="publish a container's port(s) to the host",
    )
    a("-P", "--publish-all", action="store_true", help="publish all exposed ports")
    a("--pull", default="missing", help='pull image before running ("always"|"missing"|"never")')
    a("--read-only", action="store_true", help="mount the container's root filesystem read-only")
    a("--restart", default="no", help="restart policy to apply when a container exits")
    a("--rm", action="store_true", help="automatically remove the container when it exits")
    a("--runtime", default="", help="runtime to use for this container")
    a("--security-opt", action="append", default=[], help="security options")
    a("--shm-size", default="", help="size of /dev/shm")
    a("--stop-signal", default=None, help="signal to stop a container")
    a("--stop-timeout", type=int, default=None, help="timeout (in seconds) to stop a container")
    a("--storage-opt", action="append", default=[], help="storage driver options for the container")
    a("--sysctl", action="append", default=[], help="sysctl options")
    a("--tmpfs", action="append", default=[], help="mount a tmpfs directory")
    a("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    a("--ulimit", action="append", default=[], help="ulimit options")
    a("-u", "--user", default="", help="username or UID (format: <name|uid>[:<group|gid>])")
    a("--userns", default="", help="user namespace to use")
    a("--uts", default="", help="UTS namespace to use")
    a("-v", "--volume", action="append", default=[], help="bind mount a volume")
    a("--volume-driver", default="", help="optional volume driver for the container")
    a(
        "--volumes-from",
        action="append",
        default=[],
        help="mount volumes from the specified container(s)",
    )
    a("-w", "--workdir", default="", help="working directory inside the container")
    a("image", metavar="IMAGE")
    a("command", nargs=argparse.REMAINDER, metavar="COMMAND")


# -- helpers -----------------------------------------------------------------------------


def _swap(value: str) -> int:
    if value == "":
        return 0
    if value == "-1":
        return -1
    return _size(value, "--memory-swap")


def _nano_cpus(value: str) -> int:
    if value == "":
        return 0
    from decimal import Decimal, InvalidOperation

    try:
        n = Decimal(value) * 1_000_000_000
    except InvalidOperation:
        raise _bad("--cpus", value, f"failed to parse {value} as a rational number") from None
    if n != n.to_integral_value():
        raise _bad("--cpus", value, "value is too precise")
    return int(n)


def _duration(value: str, flag: str) -> int:
    try:
        return parse_duration(value)
    except InvalidArgument:
        raise _bad(flag, value, f'time: invalid duration "{value}"') from None


def parse_restart(value: str) -> dict[str, Any]:
    """``opts.ParseRestartPolicy``: no | always | unless-stopped | on-failure[:N]."""
    name, sep, count = value.partition(":")
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise UsageError(f"invalid restart policy {name}", PROG)
    policy: dict[str, Any] = {"Name": name, "MaximumRetryCount": 0}
    if sep:
        if name != "on-failure":
            raise UsageError(
                f"maximum retry count cannot be used with restart policy '{name}'", PROG
            )
        if not count.lstrip("-").isdigit():
            raise UsageError(f'strconv.Atoi: parsing "{count}": invalid syntax', PROG)
        policy["MaximumRetryCount"] = int(count)
    return policy


def parse_security_opts(
    opts: list[str],
) -> tuple[list[str] | None, list[str] | None, list[str] | None]:
    """``parseSecurityOpts`` + ``parseSystemPaths``: (SecurityOpt, MaskedPaths, ReadonlyPaths)."""
    out: list[str] = []
    masked: list[str] | None = None
    readonly: list[str] | None = None
    for opt in opts:
        if opt == "systempaths=unconfined":
            masked, readonly = [], []
            continue
        if opt == "no-new-privileges":
            out.append(opt)
            continue
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
            if not sep:
                raise UsageError(f"Invalid --security-opt: {opt!r}", PROG)
        if key == "seccomp" and value != "unconfined":
            try:
                with open(value, "rb") as f:
                    import json

                    doc = json.loads(f.read())
            except OSError as exc:
                raise UsageError(f"opening seccomp profile ({value}) failed: {exc}", PROG) from None
            except ValueError as exc:
                raise UsageError(
                    f"compacting json for seccomp profile ({value}) failed: {exc}", PROG
                ) from None
            value = json.dumps(doc, separators=(",", ":"))
            opt = f"seccomp={value}"
        out.append(opt)
    return (out or None), masked, readonly


def _modes(args: argparse.Namespace) -> None:
    for flag, value, extra in (
        ("--pid", args.pid, ()),
        ("--uts", args.uts, ()),
        ("--userns", args.userns, ()),
        ("--ipc", args.ipc, ("none", "private", "shareable")),
    ):
        if not value:
            continue
        kind, _, arg = value.partition(":")
        ok = (
            value == "host"
            or (kind == "container" and arg and flag in ("--pid", "--ipc"))
            or value in extra
        )
        if not ok:
            what = {"--pid": "PID", "--uts": "UTS", "--userns": "USER", "--ipc": "IPC"}[flag]
            raise UsageError(f"{flag}: invalid {what} mode", PROG)
    if args.cgroupns and args.cgroupns not in ("host", "private"):
        raise UsageError("--cgroupns: invalid CGROUP mode", PROG)


def _health(args: argparse.Namespace) -> dict[str, Any] | None:
    interval = _duration(args.health_interval, "--health-interval")
    timeout = _duration(args.health_timeout, "--health-timeout")
    start = _duration(args.health_start_period, "--health-start-period")
    have = bool(args.health_cmd) or interval or timeout or start or args.health_retries
    if args.no_healthcheck:
        if have:
            raise UsageError("--no-healthcheck conflicts with --health-* options", PROG)
        return {"Test": ["NONE"]}
    if not have:
        return None
    for flag, v in (
        ("interval", interval),
        ("timeout", timeout),
        ("retries", args.health_retries),
        ("start-period", start),
    ):
        if v < 0:
            raise UsageError(f"--health-{flag} cannot be negative", PROG)
    return {
        "Test": ["CMD-SHELL", args.health_cmd] if args.health_cmd else None,
        "Interval": interval,
        "Timeout": timeout,
        "StartPeriod": start,
        "Retries": args.health_retries,
    }


def _log_opts(driver: str, opts: list[str]) -> dict[str, str]:
    out = {}
    for o in opts:
        k, sep, v = o.partition("=")
        if not sep:
            raise UsageError(f"invalid key-value pair: {o}", PROG)
        out[k] = v
    if driver == "none" and out:
        raise UsageError(f"invalid logging opts for driver {driver}", PROG)
    return out


# -- the body ----------------------------------------------------------------------------


def build(args: argparse.Namespace, *, prog: str = PROG) -> CreateRequest:
    """The create request ``args`` stand for (UsageError with docker's message if bad)."""
    try:
        return _build(args)
    except UsageError as exc:
        exc.prog = prog
        raise


def _build(args: argparse.Namespace) -> CreateRequest:
    attach = {s.lower() for s in args.attach}
    for s in attach:
        if s not in ("stdin", "stdout", "stderr"):
            raise _bad("-a, --attach", s, "valid streams are STDIN, STDOUT and STDERR")
    attach_stdin = "stdin" in attach or args.interactive
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach
    if args.memory_swappiness != -1 and not 0 <= args.memory_swappiness <= 100:
        raise UsageError(
            f"invalid value: {args.memory_swappiness}. Valid memory swappiness range is 0-100",
            PROG,
        )
    if args.pull not in ("missing", "always", "never"):
        raise UsageError(
            f'invalid pull option: \'{args.pull}\': must be one of "always", "missing" or "never"',
            PROG,
        )
    binds: list[str] = []
    volumes: dict[str, dict[str, Any]] = {}
    for spec in args.volume:
        src, dst, _ = split_volume(spec)
        if src:
            if spec not in binds:
                binds.append(spec)
        else:
            volumes[dst] = {}
    tmpfs: dict[str, str] = {}
    for t in args.tmpfs:
        path, _, opts = t.partition(":")
        tmpfs[path] = opts
    # `--entrypoint=` resets the image's: [""]
    entrypoint = None if args.entrypoint is None else [args.entrypoint]
    exposed, bindings = parse_ports(args.publish, args.expose)
    devices = [parse_device(d) for d in args.device]
    env = _env(args.env_file, args.env)
    labels = _labels(args.label_file, args.label)
    _modes(args)
    restart = parse_restart(args.restart)
    log_opts = _log_opts(args.log_driver, args.log_opt)
    security, masked, readonly = parse_security_opts(args.security_opt)
    storage = {}
    for s in args.storage_opt:
        k, sep, v = s.partition("=")
        if not sep:
            raise UsageError("invalid storage option", PROG)
        storage[k] = v
    sysctls = {}
    for s in args.sysctl:
        k, sep, v = s.partition("=")
        if not sep:
            raise _bad("--sysctl", s, f"sysctl '{s}' is not allowed")
        sysctls[k] = v
    for h in args.add_host:
        name, sep, ip = h.partition(":")
        if not sep or not name or not _valid_ip(ip):
            raise _bad("--add-host", h, f"invalid IP address in add-host: {ip!r}")
    health = _health(args)
    mounts = [parse_mount(m) for m in args.mount]
    memory = _size(args.memory, "-m, --memory")
    resources: dict[str, Any] = {
        "CpuShares": args.cpu_shares,
        "Memory": memory,
        "NanoCpus": _nano_cpus(args.cpus),
        "CgroupParent": args.cgroup_parent,
        "BlkioWeight": args.blkio_weight,
        "BlkioWeightDevice": _weight_devices(args.blkio_weight_device),
        "BlkioDeviceReadBps": _throttle(args.device_read_bps, "--device-read-bps", False),
        "BlkioDeviceWriteBps": _throttle(args.device_write_bps, "--device-write-bps", False),
        "BlkioDeviceReadIOps": _throttle(args.device_read_iops, "--device-read-iops", True),
        "BlkioDeviceWriteIOps": _throttle(args.device_write_iops, "--device-write-iops", True),
        "CpuPeriod": args.cpu_period,
        "CpuQuota": args.cpu_quota,
        "CpuRealtimePeriod": args.cpu_rt_period,
        "CpuRealtimeRuntime": args.cpu_rt_runtime,
        "CpusetCpus": args.cpuset_cpus,
        "CpusetMems": args.cpuset_mems,
        "Devices": devices,
        "DeviceCgroupRules": args.device_cgroup_rule or None,
        "DeviceRequests": None,
        "KernelMemory": _size(args.kernel_memory, "--kernel-memory"),
        "KernelMemoryTCP": 0,
        "MemoryReservation": _size(args.memory_reservation, "--memory-reservation"),
        "MemorySwap": _swap(args.memory_swap),
        "MemorySwappiness": args.memory_swappiness,
        "OomKillDisable": args.oom_kill_disable,
        "PidsLimit": args.pids_limit,
        "Ulimits": _ulimits(args.ulimit) or None,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
    }
    config: dict[str, Any] = {
        "Hostname": args.hostname,
        "Domainname": args.domainname,
        "User": args.user,
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
        "Tty": args.tty,
        "OpenStdin": args.interactive,
        "StdinOnce": bool(args.interactive and attach_stdin),
        "Env": env or None,
        "Cmd": list(args.command) or None,
        "Image": args.image,
        "Volumes": volumes or None,
        "WorkingDir": args.workdir,
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": labels,
    }
    if exposed:
        config["ExposedPorts"] = exposed
    if args.mac_address:
        config["MacAddress"] = args.mac_address
    if health is not None:
        config["Healthcheck"] = health
    if args.stop_signal is not None:
        config["StopSignal"] = args.stop_signal
    if args.stop_timeout is not None:
        config["StopTimeout"] = args.stop_timeout
    host: dict[str, Any] = {
        "Binds": binds or None,
        "ContainerIDFile": args.cidfile,
        "LogConfig": {"Type": args.log_driver, "Config": log_opts},
        "NetworkMode": args.network or "default",
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": args.rm,
        "VolumeDriver": args.volume_driver,
        "VolumesFrom": args.volumes_from or None,
        "CapAdd": args.cap_add or None,
        "CapDrop": args.cap_drop or None,
        "CgroupnsMode": args.cgroupns,
        "Dns": args.dns,
        "DnsOptions": args.dns_option,
        "DnsSearch": args.dns_search,
        "ExtraHosts": args.add_host or None,
        "GroupAdd": args.group_add or None,
        "IpcMode": args.ipc,
        "Cgroup": "",
        "Links": args.link or None,
        "OomScoreAdj": args.oom_score_adj,
        "PidMode": args.pid,
        "Privileged": args.privileged,
        "PublishAllPorts": args.publish_all,
        "ReadonlyRootfs": args.read_only,
        "SecurityOpt": security,
        "UTSMode": args.uts,
        "UsernsMode": args.userns,
        "ShmSize": _size(args.shm_size, "--shm-size"),
        "ConsoleSize": [0, 0],
        "Isolation": args.isolation,
        **resources,
        "MaskedPaths": masked,
        "ReadonlyPaths": readonly,
    }
    if storage:
        host["StorageOpt"] = storage
    if tmpfs:
        host["Tmpfs"] = tmpfs
    if sysctls:
        host["Sysctls"] = sysctls
    if args.runtime:
        host["Runtime"] = args.runtime
    if mounts:
        host["Mounts"] = mounts
    if args.init is not None:
        host["Init"] = bool(args.init)
    if args.rm and restart["Name"] not in ("", "no"):
        raise UsageError("Conflicting options: --restart and --rm", PROG)
    endpoints: dict[str, Any] = {}
    ep: dict[str, Any] = {}
    if args.network_alias:
        ep["Aliases"] = args.network_alias
    if args.ip or args.ip6:
        ep["IPAMConfig"] = {"IPv4Address": args.ip, "IPv6Address": args.ip6}
    if ep:
        endpoints[args.network or "default"] = ep
    body = {**config, "HostConfig": host, "NetworkingConfig": {"EndpointsConfig": endpoints}}
    return CreateRequest(body=body, name=args.name, platform=args.platform, pull=args.pull)


__all__ = [
    "CreateRequest",
    "add_run_flags",
    "build",
    "parse_device",
    "parse_mount",
    "parse_ports",
    "parse_restart",
    "parse_security_opts",
    "read_kv_file",
    "split_volume",
]
