"""OCI runtime-spec 1.x ``config.json`` as typed objects.

Parsed and validated once at the edge: every later layer reads attributes,
never raw dicts. Unknown fields are ignored, as the spec requires; a field of
the wrong type or value raises ``InvalidArgument`` naming its JSON path
("config.json: process.args[1]: expected a string").

Plain classes with ``__slots__`` rather than dataclasses: importing
``dataclasses`` costs ~18 ms and this module is on ``hull-runtime``'s hot
path (see docs/runtime.md). ``to_json`` is not needed for config objects; the
raw document is kept on ``Spec.raw`` for hooks and ``state``.
"""

from __future__ import annotations

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")


class _Reader:
    """Typed access to one JSON object, with the path for error messages."""

    __slots__ = ("d", "path")

    def __init__(self, d: Any, path: str) -> None:
        if not isinstance(d, dict):
            raise InvalidArgument(f"config.json: {path or 'document'}: expected an object")
        self.d: dict[str, Any] = d
        self.path = path

    def _p(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, what: str) -> InvalidArgument:
        return InvalidArgument(f"config.json: {self._p(key)}: {what}")

    def text(self, key: str, default: str = "") -> str:
        v = self.d.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self.fail(key, "expected a string")
        return v

    def opt_text(self, key: str) -> str | None:
        v = self.d.get(key)
        if v is not None and not isinstance(v, str):
            raise self.fail(key, "expected a string")
        return v

    def flag(self, key: str, default: bool = False) -> bool:
        v = self.d.get(key)
        if v is None:
            return default
        if not isinstance(v, bool):
            raise self.fail(key, "expected true or false")
        return v

    def integer(self, key: str) -> int | None:
        v = self.d.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(key, "expected an integer")
        return v

    def uinteger(self, key: str) -> int | None:
        v = self.integer(key)
        if v is not None and v < 0:
            raise self.fail(key, "expected a non-negative integer")
        return v

    def texts(self, key: str) -> list[str]:
        v = self.d.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.fail(key, "expected a list of strings")
        for i, s in enumerate(v):
            if not isinstance(s, str):
                raise self.fail(f"{key}[{i}]", "expected a string")
        return v

    def integers(self, key: str) -> list[int]:
        v = self.d.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.fail(key, "expected a list of integers")
        for i, n in enumerate(v):
            if isinstance(n, bool) or not isinstance(n, int):
                raise self.fail(f"{key}[{i}]", "expected an integer")
        return v

    def obj(self, key: str) -> _Reader | None:
        v = self.d.get(key)
        if v is None:
            return None
        return _Reader(v, self._p(key))

    def objs(self, key: str) -> list[_Reader]:
        v = self.d.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.fail(key, "expected a list")
        return [_Reader(x, f"{self._p(key)}[{i}]") for i, x in enumerate(v)]

    def text_map(self, key: str) -> dict[str, str]:
        v = self.d.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.fail(key, "expected an object of strings")
        for k, s in v.items():
            if not isinstance(s, str):
                raise self.fail(f"{key}.{k}", "expected a string")
        return v


class Root:
    __slots__ = ("path", "readonly")

    def __init__(self, r: _Reader) -> None:
        self.path = r.text("path")
        if not self.path:
            raise r.fail("path", "is required")
        self.readonly = r.flag("readonly")


class Mount:
    __slots__ = ("destination", "gid_mappings", "options", "source", "type", "uid_mappings")

    def __init__(self, r: _Reader) -> None:
        self.destination = r.text("destination")
        if not self.destination:
            raise r.fail("destination", "is required")
        self.type = r.text("type")
        self.source = r.text("source")
        self.options = r.texts("options")
        self.uid_mappings = [IDMapping(m) for m in r.objs("uidMappings")]
        self.gid_mappings = [IDMapping(m) for m in r.objs("gidMappings")]


class User:
    __slots__ = ("additional_gids", "gid", "uid", "umask", "username")

    def __init__(self, r: _Reader | None) -> None:
        self.uid = 0
        self.gid = 0
        self.umask: int | None = None
        self.additional_gids: list[int] = []
        self.username = ""
        if r is not None:
            self.uid = r.uinteger("uid") or 0
            self.gid = r.uinteger("gid") or 0
            self.umask = r.uinteger("umask")
            self.additional_gids = r.integers("additionalGids")
            self.username = r.text("username")


class Capabilities:
    __slots__ = ("ambient", "bounding", "effective", "inheritable", "permitted")

    def __init__(self, r: _Reader) -> None:
        self.bounding = r.texts("bounding")
        self.effective = r.texts("effective")
        self.inheritable = r.texts("inheritable")
        self.permitted = r.texts("permitted")
        self.ambient = r.texts("ambient")


class Rlimit:
    __slots__ = ("hard", "soft", "type")

    def __init__(self, r: _Reader) -> None:
        self.type = r.text("type")
        if not self.type.startswith("RLIMIT_"):
            raise r.fail("type", f"unknown rlimit {self.type!r}")
        hard, soft = r.uinteger("hard"), r.uinteger("soft")
        if hard is None or soft is None:
            raise r.fail("hard", "hard and soft are required")
        if soft > hard:
            raise r.fail("soft", f"soft limit {soft} exceeds hard limit {hard}")
        self.hard = hard
        self.soft = soft


class ConsoleSize:
    __slots__ = ("height", "width")

    def __init__(self, r: _Reader) -> None:
        self.height = r.uinteger("height") or 0
        self.width = r.uinteger("width") or 0


class Process:
    __slots__ = (
        "apparmor_profile",
        "args",
        "capabilities",
        "console_size",
        "cwd",
        "env",
        "io_priority",
        "no_new_privileges",
        "oom_score_adj",
        "rlimits",
        "scheduler",
        "selinux_label",
        "terminal",
        "user",
    )

    def __init__(self, r: _Reader) -> None:
        self.terminal = r.flag("terminal")
        cs = r.obj("consoleSize")
        self.console_size = ConsoleSize(cs) if cs else None
        self.user = User(r.obj("user"))
        self.args = r.texts("args")
        if not self.args and r.d.get("commandLine") is None:
            raise r.fail("args", "at least one argument (the program) is required")
        self.env = r.texts("env")
        self.cwd = r.text("cwd", "/")
        if not self.cwd.startswith("/"):
            raise r.fail("cwd", f"must be an absolute path, not {self.cwd!r}")
        caps = r.obj("capabilities")
        self.capabilities = Capabilities(caps) if caps else None
        self.rlimits = [Rlimit(x) for x in r.objs("rlimits")]
        self.no_new_privileges = r.flag("noNewPrivileges")
        self.apparmor_profile = r.text("apparmorProfile")
        self.selinux_label = r.text("selinuxLabel")
        self.oom_score_adj = r.integer("oomScoreAdj")
        if self.oom_score_adj is not None and not -1000 <= self.oom_score_adj <= 1000:
            raise r.fail("oomScoreAdj", "must be between -1000 and 1000")
        self.scheduler = r.d.get("scheduler")
        self.io_priority = r.d.get("ioPriority")


class Hook:
    __slots__ = ("args", "env", "path", "timeout")

    def __init__(self, r: _Reader) -> None:
        self.path = r.text("path")
        if not self.path.startswith("/"):
            raise r.fail("path", "a hook needs an absolute path")
        self.args = r.texts("args")
        self.env = r.texts("env")
        self.timeout = r.integer("timeout")
        if self.timeout is not None and self.timeout <= 0:
            raise r.fail("timeout", "must be a positive number of seconds")


HOOK_KINDS = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)


class Namespace:
    __slots__ = ("path", "type")

    def __init__(self, r: _Reader) -> None:
        self.type = r.text("type")
        if self.type not in NAMESPACE_TYPES:
            raise r.fail("type", f"unknown namespace type {self.type!r}")
        self.path = r.text("path")


class IDMapping:
    __slots__ = ("container_id", "host_id", "size")

    def __init__(self, r: _Reader) -> None:
        c, h, s = r.uinteger("containerID"), r.uinteger("hostID"), r.uinteger("size")
        if c is None or h is None or s is None:
            raise r.fail("containerID", "containerID, hostID and size are required")
        self.container_id, self.host_id, self.size = c, h, s


class Device:
    __slots__ = ("file_mode", "gid", "major", "minor", "path", "type", "uid")

    def __init__(self, r: _Reader) -> None:
        self.path = r.text("path")
        if not self.path.startswith("/"):
            raise r.fail("path", "a device needs an absolute path")
        self.type = r.text("type")
        if self.type not in ("c", "b", "u", "p"):
            raise r.fail("type", f"unknown device type {self.type!r} (want c, b, u or p)")
        major, minor = r.integer("major"), r.integer("minor")
        if self.type != "p" and (major is None or minor is None):
            raise r.fail("major", "major and minor are required")
        self.major = major or 0
        self.minor = minor or 0
        self.file_mode = r.uinteger("fileMode")
        self.uid = r.uinteger("uid")
        self.gid = r.uinteger("gid")


class DeviceRule:
    __slots__ = ("access", "allow", "major", "minor", "type")

    def __init__(self, r: _Reader) -> None:
        self.allow = r.flag("allow")
        self.type = r.text("type", "a")
        if self.type not in ("a", "b", "c"):
            raise r.fail("type", f"unknown device type {self.type!r} (want a, b or c)")
        self.major = r.integer("major")
        self.minor = r.integer("minor")
        self.access = r.text("access", "rwm")
        if not self.access or any(c not in "rwm" for c in self.access):
            raise r.fail("access", f"invalid access {self.access!r} (letters of rwm)")


class Memory:
    __slots__ = (
        "check_before_update",
        "disable_oom_killer",
        "kernel",
        "kernel_tcp",
        "limit",
        "reservation",
        "swap",
        "swappiness",
        "use_hierarchy",
    )

    def __init__(self, r: _Reader) -> None:
        self.limit = r.integer("limit")
        self.reservation = r.integer("reservation")
        self.swap = r.integer("swap")
        self.kernel = r.integer("kernel")
        self.kernel_tcp = r.integer("kernelTCP")
        self.swappiness = r.uinteger("swappiness")
        if self.swappiness is not None and self.swappiness > 100:
            raise r.fail("swappiness", "must be between 0 and 100")
        self.disable_oom_killer = r.d.get("disableOOMKiller")
        self.use_hierarchy = r.d.get("useHierarchy")
        self.check_before_update = r.flag("checkBeforeUpdate")


class CPU:
    __slots__ = (
        "burst",
        "cpus",
        "idle",
        "mems",
        "period",
        "quota",
        "realtime_period",
        "realtime_runtime",
        "shares",
    )

    def __init__(self, r: _Reader) -> None:
        self.shares = r.uinteger("shares")
        self.quota = r.integer("quota")
        self.burst = r.uinteger("burst")
        self.period = r.uinteger("period")
        self.realtime_runtime = r.integer("realtimeRuntime")
        self.realtime_period = r.uinteger("realtimePeriod")
        self.cpus = r.text("cpus")
        self.mems = r.text("mems")
        self.idle = r.integer("idle")


class WeightDevice:
    __slots__ = ("leaf_weight", "major", "minor", "weight")

    def __init__(self, r: _Reader) -> None:
        self.major = r.integer("major") or 0
        self.minor = r.integer("minor") or 0
        self.weight = r.uinteger("weight")
        self.leaf_weight = r.uinteger("leafWeight")


class ThrottleDevice:
    __slots__ = ("major", "minor", "rate")

    def __init__(self, r: _Reader) -> None:
        self.major = r.integer("major") or 0
        self.minor = r.integer("minor") or 0
        self.rate = r.uinteger("rate") or 0


class BlockIO:
    __slots__ = (
        "leaf_weight",
        "throttle_read_bps_device",
        "throttle_read_iops_device",
        "throttle_write_bps_device",
        "throttle_write_iops_device",
        "weight",
        "weight_device",
    )

    def __init__(self, r: _Reader) -> None:
        self.weight = r.uinteger("weight")
        self.leaf_weight = r.uinteger("leafWeight")
        self.weight_device = [WeightDevice(x) for x in r.objs("weightDevice")]
        self.throttle_read_bps_device = [ThrottleDevice(x) for x in r.objs("throttleReadBpsDevice")]
        self.throttle_write_bps_device = [
            ThrottleDevice(x) for x in r.objs("throttleWriteBpsDevice")
        ]
        self.throttle_read_iops_device = [
            ThrottleDevice(x) for x in r.objs("throttleReadIOPSDevice")
        ]
        self.throttle_write_iops_device = [
            ThrottleDevice(x) for x in r.objs("throttleWriteIOPSDevice")
        ]


class HugepageLimit:
    __slots__ = ("limit", "page_size")

    def __init__(self, r: _Reader) -> None:
        self.page_size = r.text("pageSize")
        self.limit = r.uinteger("limit") or 0


class Resources:
    __slots__ = (
        "block_io",
        "cpu",
        "devices",
        "hugepage_limits",
        "memory",
        "network",
        "pids_limit",
        "rdma",
        "unified",
    )

    def __init__(self, r: _Reader | None) -> None:
        self.devices: list[DeviceRule] = []
        self.memory: Memory | None = None
        self.cpu: CPU | None = None
        self.pids_limit: int | None = None
        self.block_io: BlockIO | None = None
        self.hugepage_limits: list[HugepageLimit] = []
        self.unified: dict[str, str] = {}
        self.network: dict[str, Any] | None = None
        self.rdma: dict[str, Any] | None = None
        if r is None:
            return
        self.devices = [DeviceRule(x) for x in r.objs("devices")]
        m = r.obj("memory")
        self.memory = Memory(m) if m else None
        c = r.obj("cpu")
        self.cpu = CPU(c) if c else None
        p = r.obj("pids")
        self.pids_limit = p.integer("limit") if p else None
        b = r.obj("blockIO")
        self.block_io = BlockIO(b) if b else None
        self.hugepage_limits = [HugepageLimit(x) for x in r.objs("hugepageLimits")]
        self.unified = r.text_map("unified")
        self.network = r.d.get("network")
        self.rdma = r.d.get("rdma")


class SeccompArg:
    __slots__ = ("index", "op", "value", "value_two")

    def __init__(self, r: _Reader) -> None:
        index = r.uinteger("index")
        if index is None or index > 5:
            raise r.fail("index", "must be 0 to 5")
        self.index = index
        self.value = r.uinteger("value") or 0
        self.value_two = r.uinteger("valueTwo") or 0
        self.op = r.text("op")
        if self.op not in SECCOMP_OPS:
            raise r.fail("op", f"unknown operator {self.op!r}")


SECCOMP_OPS = (
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
)
SECCOMP_ACTIONS = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
)


class SeccompSyscall:
    __slots__ = ("action", "args", "errno_ret", "names")

    def __init__(self, r: _Reader) -> None:
        self.names = r.texts("names")
        if not self.names:
            raise r.fail("names", "at least one syscall name is required")
        self.action = r.text("action")
        if self.action not in SECCOMP_ACTIONS:
            raise r.fail("action", f"unknown action {self.action!r}")
        self.errno_ret = r.uinteger("errnoRet")
        self.args = [SeccompArg(a) for a in r.objs("args")]


class Seccomp:
    __slots__ = (
        "architectures",
        "default_action",
        "default_errno_ret",
        "flags",
        "listener_metadata",
        "listener_path",
        "syscalls",
    )

    def __init__(self, r: _Reader) -> None:
        self.default_action = r.text("defaultAction")
        if self.default_action not in SECCOMP_ACTIONS:
            raise r.fail("defaultAction", f"unknown action {self.default_action!r}")
        self.default_errno_ret = r.uinteger("defaultErrnoRet")
        self.architectures = r.texts("architectures")
        self.flags = r.texts("flags")
        self.listener_path = r.text("listenerPath")
        self.listener_metadata = r.text("listenerMetadata")
        self.syscalls = [SeccompSyscall(s) for s in r.objs("syscalls")]


class Linux:
    __slots__ = (
        "cgroups_path",
        "devices",
        "gid_mappings",
        "masked_paths",
        "mount_label",
        "namespaces",
        "personality",
        "readonly_paths",
        "resources",
        "rootfs_propagation",
        "seccomp",
        "sysctl",
        "uid_mappings",
    )

    def __init__(self, r: _Reader | None) -> None:
        if r is None:
            r = _Reader({}, "linux")
        self.namespaces = [Namespace(n) for n in r.objs("namespaces")]
        seen: set[str] = set()
        for i, ns in enumerate(self.namespaces):
            if ns.type in seen:
                raise r.fail(f"namespaces[{i}]", f"namespace {ns.type!r} listed twice")
            seen.add(ns.type)
        self.uid_mappings = [IDMapping(m) for m in r.objs("uidMappings")]
        self.gid_mappings = [IDMapping(m) for m in r.objs("gidMappings")]
        if (self.uid_mappings or self.gid_mappings) and "user" not in seen:
            raise r.fail("uidMappings", "ID mappings need a user namespace")
        self.devices = [Device(d) for d in r.objs("devices")]
        self.cgroups_path = r.text("cgroupsPath")
        self.resources = Resources(r.obj("resources"))
        self.rootfs_propagation = r.text("rootfsPropagation")
        if self.rootfs_propagation and self.rootfs_propagation not in PROPAGATION:
            raise r.fail("rootfsPropagation", f"unknown propagation {self.rootfs_propagation!r}")
        self.masked_paths = r.texts("maskedPaths")
        self.readonly_paths = r.texts("readonlyPaths")
        self.mount_label = r.text("mountLabel")
        self.sysctl = r.text_map("sysctl")
        sc = r.obj("seccomp")
        self.seccomp = Seccomp(sc) if sc else None
        self.personality = r.d.get("personality")

    def namespace(self, kind: str) -> Namespace | None:
        """The namespace entry of that type, if the config asks for one."""
        for ns in self.namespaces:
            if ns.type == kind:
                return ns
        return None


PROPAGATION = (
    "shared",
    "slave",
    "private",
    "unbindable",
    "rshared",
    "rslave",
    "rprivate",
    "runbindable",
)


class Spec:
    """A whole ``config.json``."""

    __slots__ = (
        "annotations",
        "domainname",
        "hooks",
        "hostname",
        "linux",
        "mounts",
        "oci_version",
        "process",
        "raw",
        "root",
    )

    def __init__(self, raw: Any) -> None:
        r = _Reader(raw, "")
        self.raw: dict[str, Any] = r.d
        self.oci_version = r.text("ociVersion")
        if not self.oci_version:
            raise r.fail("ociVersion", "is required")
        if not self.oci_version.startswith("1."):
            raise r.fail("ociVersion", f"unsupported version {self.oci_version!r} (want 1.x)")
        root = r.obj("root")
        if root is None:
            raise r.fail("root", "is required")
        self.root = Root(root)
        self.mounts = [Mount(m) for m in r.objs("mounts")]
        proc = r.obj("process")
        self.process = Process(proc) if proc else None
        self.hostname = r.text("hostname")
        self.domainname = r.text("domainname")
        self.annotations = r.text_map("annotations")
        self.hooks: dict[str, list[Hook]] = {}
        hooks = r.obj("hooks")
        if hooks is not None:
            for kind in HOOK_KINDS:
                self.hooks[kind] = [Hook(h) for h in hooks.objs(kind)]
        self.linux = Linux(r.obj("linux"))
        if self.hostname and self.linux.namespace("uts") is None:
            raise r.fail("hostname", "setting a hostname needs a uts namespace")


def parse_process(raw: Any) -> Process:
    """Parse a ``process`` object alone (``exec --process FILE``)."""
    return Process(_Reader(raw, "process"))


def parse_spec(data: bytes | str) -> Spec:
    """Parse and validate the bytes of a config.json."""
    from hull.oci.fastjson import loads

    try:
        raw = loads(data)
    except ValueError as exc:
        raise InvalidArgument(f"config.json is not valid JSON: {exc}") from None
    return Spec(raw)
