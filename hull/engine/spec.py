"""A container's OCI ``config.json``, generated with Docker's semantics and defaults.

``generate_spec`` follows moby's ``daemon/oci_linux.go`` ``createSpec``: the
command from Entrypoint and Cmd (the image's filled in, ``--init`` in front),
the environment (PATH, HOSTNAME, TERM under a TTY, then the container's), the
user resolved in the container's own ``/etc/passwd`` and ``/etc/group``,
Docker's default capability set tweaked by CapAdd/CapDrop (effective and
permitted only for root, as execve would give), the default seccomp profile
filtered by those capabilities, the namespaces of the Ipc/Pid/UTS/Network/
Cgroupns modes, the default mounts then the network files and the user's
mounts (parents before children), masked and read-only paths, sysctls,
resources, devices and rlimits. ``--privileged`` lifts it all: every
capability, every host device, no seccomp, no masked paths, ``/sys`` and the
cgroup mount writable.

The engine resolves volumes, bind sources and the network files before
calling; this module only reads the container's rootfs (users and groups)
and stats host device nodes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hull.engine import seccomp_profile
from hull.engine.config import ContainerConfig, HostConfig, normalize_capabilities
from hull.engine.defaults import (
    DEFAULT_READONLY_PATHS,
    DEFAULT_SHM_SIZE,
    default_masked_paths,
    merge_image_config,
)
from hull.engine.resources import (
    device_entries,
    devices_from_path,
    host_cgroup_v2,
    parse_device_cgroup_rule,
    resources,
)
from hull.errors import FailedPrecondition, InvalidArgument
from hull.linux import caps as _caps
from hull.oci.image_config import ContainerConfig as ImageContainerConfig
from hull.oci.image_config import ImageConfig
from hull.runtime.users import resolve_user

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_PATH_IN_CONTAINER = "/sbin/docker-init"
OCI_VERSION = "1.1.0"

# moby daemon/pkg/oci/caps/defaults.go, in its order.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)


@dataclass(frozen=True)
class ResolvedMount:
    """A user mount the engine has resolved: a bind (volumes are binds of their dir) or tmpfs."""

    destination: str
    source: str
    type: str = "bind"  # "bind" or "tmpfs"
    readonly: bool = False
    propagation: str = ""  # "" = rprivate
    non_recursive: bool = False
    options: tuple[str, ...] = ()  # tmpfs data: "size=64m", "mode=1777", ...


@dataclass(frozen=True)
class IDMappings:
    """User-namespace ID mappings (``--userns-remap``); each a (container, host, size)."""

    uids: tuple[tuple[int, int, int], ...]
    gids: tuple[tuple[int, int, int], ...]


# -- command, environment, user -------------------------------------------------------


def command_args(cfg: ContainerConfig) -> list[str]:
    """argv from a merged config: Entrypoint then Cmd; "No command specified" if empty."""
    entrypoint = list(cfg.entrypoint or ())
    if entrypoint == [""]:
        entrypoint = []
    args = entrypoint + list(cfg.cmd or ())
    if not args:
        raise InvalidArgument("No command specified")
    return args


def container_env(env: Sequence[str] | None, hostname: str, tty: bool) -> list[str]:
    """PATH, HOSTNAME and TERM, then ``env`` replacing by key (moby ``ReplaceOrAppendEnvValues``).

    An entry without "=" unsets that variable.
    """
    out = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if tty:
        out.append("TERM=xterm")
    index = {e.split("=", 1)[0]: i for i, e in enumerate(out)}
    for value in env or ():
        key, sep, _ = value.partition("=")
        if not sep:
            if key in index:
                out[index[key]] = ""
        elif key in index:
            out[index[key]] = value
        else:
            out.append(value)
    return [e for e in out if e]


# -- security options and capabilities ---------------------------------------------------


@dataclass(frozen=True)
class SecurityOptions:
    """``--security-opt`` values that shape the spec."""

    no_new_privileges: bool = False
    seccomp: str | None = None  # None: the default; "unconfined"; else a profile's JSON
    systempaths_unconfined: bool = False
    writable_cgroups: bool | None = None


def _parse_bool(text: str, opt: str) -> bool:
    v = text.lower()
    if v in ("1", "t", "true"):
        return True
    if v in ("0", "f", "false"):
        return False
    raise InvalidArgument(f"invalid --security-opt 2: {opt!r}")


def parse_security_opts(opts: Sequence[str] | None) -> SecurityOptions:
    """``--security-opt`` values: key=value (key:value from old clients), no-new-privileges."""
    nnp, seccomp, unconfined, cgroups = False, None, False, None
    for opt in opts or ():
        if opt == "no-new-privileges":
            nnp = True
            continue
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if not sep:
            raise InvalidArgument(f"invalid --security-opt 1: {opt!r}")
        if key == "no-new-privileges":
            nnp = _parse_bool(value, opt)
        elif key == "seccomp":
            seccomp = None if value == "builtin" else value
        elif key == "systempaths":
            if value != "unconfined":
                raise InvalidArgument(f"invalid --security-opt 2: {opt!r}")
            unconfined = True
        elif key == "writable-cgroups":
            cgroups = _parse_bool(value, opt)
        elif key not in ("label", "apparmor"):  # SELinux/AppArmor: not supported, ignored
            raise InvalidArgument(f"invalid --security-opt 2: {opt!r}")
    return SecurityOptions(nnp, seccomp, unconfined, cgroups)


def all_capabilities() -> list[str]:
    """Every capability this process holds (what ``ALL`` and ``--privileged`` give)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return _caps.names(int(line.split()[1], 16))
    except OSError:
        pass
    top = _caps.last_cap()
    return [n for n, v in _caps.CAPS.items() if v <= top]


def container_capabilities(host: HostConfig) -> list[str]:
    """Docker's default set with CapAdd/CapDrop applied ("ALL" both ways); all if privileged."""
    if host.privileged:
        return all_capabilities()
    adds = normalize_capabilities(host.cap_add)
    drops = normalize_capabilities(host.cap_drop)
    if not adds and not drops:
        return list(DEFAULT_CAPABILITIES)
    if "ALL" in adds:
        return [c for c in all_capabilities() if c not in drops]
    if "ALL" in drops:
        base: list[str] = []
    else:
        base = [c for c in DEFAULT_CAPABILITIES if c not in drops]
    return base + [c for c in adds if c not in base]


# -- namespaces, sysctls -----------------------------------------------------------------

ResolveNs = Callable[[str, str], str]

_IPC_SYSCTLS = frozenset(
    ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
     "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
)  # fmt: skip


def _ns(kind: str, mode: str, resolve_ns: ResolveNs | None) -> dict[str, str] | None:
    """The namespace entry for a ``host`` / ``container:<id>`` / private mode; None for host."""
    if mode == "host":
        return None
    if mode.startswith("container:"):
        target = mode.split(":", 1)[1]
        if resolve_ns is None:
            raise FailedPrecondition(f"cannot join the {kind} namespace of container {target}")
        return {"type": kind, "path": resolve_ns(kind, target)}
    return {"type": kind}


def check_sysctls(sysctls: dict[str, str], namespaces: list[dict[str, str]]) -> None:
    """Only namespaced sysctls, and only when the container has that namespace (runc's rules)."""
    have = {n["type"] for n in namespaces}
    for key in sysctls:
        if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
            if "ipc" not in have:
                raise InvalidArgument(f"sysctl {key!r} is not allowed in the hosts ipc namespace")
        elif key.startswith("net."):
            if "network" not in have:
                raise InvalidArgument(f"sysctl {key!r} not allowed in host network namespace")
        elif key == "kernel.domainname" and "uts" in have:
            pass
        elif key == "kernel.hostname" and "uts" in have:
            raise InvalidArgument(
                f'sysctl {key!r} is not allowed as it conflicts with the OCI "hostname" field'
            )
        else:
            raise InvalidArgument(f"sysctl {key!r} is not in a separate kernel namespace")


# -- mounts ---------------------------------------------------------------------------------

_TMPFS_FLAGS = {  # option -> the flag it sets or clears (opposites collide)
    **dict.fromkeys(("ro", "rw"), "rdonly"),
    **dict.fromkeys(("exec", "noexec"), "noexec"),
    **dict.fromkeys(("suid", "nosuid"), "nosuid"),
    **dict.fromkeys(("dev", "nodev"), "nodev"),
    **dict.fromkeys(("sync", "async"), "sync"),
    **dict.fromkeys(("dirsync",), "dirsync"),
    **dict.fromkeys(("atime", "noatime"), "noatime"),
    **dict.fromkeys(("diratime", "nodiratime"), "nodiratime"),
    **dict.fromkeys(("relatime", "norelatime"), "relatime"),
    **dict.fromkeys(("strictatime", "nostrictatime"), "strictatime"),
    **dict.fromkeys(("mand", "nomand"), "mand"),
    **dict.fromkeys(("private", "rprivate", "shared", "rshared", "slave", "rslave",
                     "unbindable", "runbindable"), "propagation"),
}  # fmt: skip
_TMPFS_DATA = frozenset(("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol"))


def merge_tmpfs_options(options: Sequence[str]) -> list[str]:
    """Later options win over earlier ones of the same kind (moby ``MergeTmpfsOptions``)."""
    seen: set[str] = set()
    out: list[str] = []
    for opt in reversed(options):
        if opt in ("defaults", ""):
            continue
        key = _TMPFS_FLAGS.get(opt)
        if key is None:
            name, sep, _ = opt.partition("=")
            if not sep or name not in _TMPFS_DATA:
                raise InvalidArgument(f"invalid tmpfs option {opt!r}")
            key = "=" + name
        if key not in seen:
            seen.add(key)
            out.insert(0, opt)
    return out


def default_mounts(shm_size: int) -> list[dict[str, Any]]:
    """Docker's default mounts (oci/defaults.go), /dev/shm sized from ShmSize."""
    nse = ["nosuid", "noexec", "nodev"]
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": list(nse)},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [*nse, "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", *nse]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": list(nse)},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": [*nse, "mode=1777", f"size={shm_size}"]},
    ]  # fmt: skip


def _bind(m: ResolvedMount) -> dict[str, Any]:
    opts = ["bind" if m.non_recursive else "rbind"]
    if m.readonly:
        opts.append("ro")
    opts.append(m.propagation or "rprivate")
    return {"destination": m.destination, "type": "bind", "source": m.source, "options": opts}


def _tmpfs(dest: str, data: Sequence[str]) -> dict[str, Any]:
    opts = merge_tmpfs_options(["noexec", "nosuid", "nodev", "rprivate", *data])
    return {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts}


def _depth(dest: str) -> int:
    return len(os.path.normpath(dest).split("/"))


def _clear_ro(m: dict[str, Any]) -> None:
    m["options"] = [o for o in m.get("options", []) if o != "ro"]


def _sysctl_exists(key: str) -> bool:
    return os.path.exists("/proc/sys/" + key.replace(".", "/"))


def generate_spec(
    image: ImageConfig | ImageContainerConfig | None,
    cfg: ContainerConfig,
    host: HostConfig,
    *,
    container_id: str,
    rootfs: str,
    hostname: str,
    resolv_conf: str | None = None,
    hosts_file: str | None = None,
    hostname_file: str | None = None,
    shm_path: str | None = None,
    mounts: Sequence[ResolvedMount] = (),
    init_path: str | None = None,
    cgroups_path: str = "",
    resolve_ns: ResolveNs | None = None,
    netns_path: str | None = None,
    userns: IDMappings | None = None,
    cgroup_v2: bool | None = None,
) -> dict[str, Any]:
    """The OCI ``config.json`` (as a dict) for a container, with Docker's defaults.

    ``image`` (None when ``cfg`` is already merged) fills in what ``cfg``
    leaves unset. ``shm_path`` is a host dir bound at /dev/shm (IpcMode
    shareable, host or container:), else /dev/shm is a tmpfs of ShmSize.
    ``mounts`` are the user's binds, volumes and ``--mount`` tmpfs, resolved;
    HostConfig.Tmpfs is handled here. ``resolve_ns(kind, container)`` gives the
    namespace path of another container (``--pid container:x``). ``netns_path``
    is a network namespace prepared by the network layer. ``userns`` maps IDs
    into a new user namespace (``--userns-remap``).
    """
    if image is not None:
        icfg = image.config if isinstance(image, ImageConfig) else image
        cfg = merge_image_config(cfg, icfg)
    sec = parse_security_opts(host.security_opt)
    if cgroup_v2 is None:
        cgroup_v2 = host_cgroup_v2()

    # process
    args = command_args(cfg)
    pid_private = host.pid_mode in ("", "private")
    extra_mounts: list[dict[str, Any]] = []
    if host.init and pid_private:
        if not init_path:
            raise FailedPrecondition("--init: no init binary (docker-init) is configured")
        args = [INIT_PATH_IN_CONTAINER, "--", *args]
        extra_mounts.append({"destination": INIT_PATH_IN_CONTAINER, "type": "bind",
                             "source": init_path, "options": ["bind", "ro"]})  # fmt: skip
    uid, gid, extra_gids = resolve_user(rootfs, cfg.user, host.group_add or ())
    caps = container_capabilities(host)
    capabilities: dict[str, list[str]] = {"bounding": list(caps)}
    if uid == 0:  # execve gives a non-root user no effective or permitted capabilities
        capabilities["effective"] = list(caps)
        capabilities["permitted"] = list(caps)
    process: dict[str, Any] = {
        "terminal": cfg.tty,
        "user": {"uid": uid, "gid": gid, "additionalGids": [gid, *extra_gids]},
        "args": args,
        "env": container_env(cfg.env, hostname, cfg.tty),
        "cwd": cfg.working_dir or "/",
        "capabilities": capabilities,
        "noNewPrivileges": sec.no_new_privileges,
        "oomScoreAdj": host.oom_score_adj,
    }
    if host.ulimits:
        process["rlimits"] = [
            {"type": "RLIMIT_" + u.name.upper(), "soft": u.soft, "hard": u.hard}
            for u in host.ulimits
        ]

    # namespaces: Docker's order (mount, network, time, uts, pid, ipc, cgroup)
    namespaces: list[dict[str, str]] = [{"type": "mount"}]
    if netns_path:
        namespaces.append({"type": "network", "path": netns_path})
    elif host.network_mode.startswith("container:"):
        ns = _ns("network", host.network_mode, resolve_ns)
        namespaces += [ns] if ns else []
    elif host.network_mode != "host":
        namespaces.append({"type": "network"})
    if os.path.exists("/proc/self/ns/time"):
        namespaces.append({"type": "time"})
    uts_host = host.uts_mode == "host"
    if not uts_host:
        namespaces.append({"type": "uts"})
    for kind, mode in (("pid", host.pid_mode), ("ipc", host.ipc_mode)):
        ns = _ns(kind, mode, resolve_ns)
        if ns is not None:
            namespaces.append(ns)
    cgroupns = host.cgroupns_mode or ("private" if cgroup_v2 else "host")
    if cgroupns == "private":
        namespaces.append({"type": "cgroup"})
    linux: dict[str, Any] = {"namespaces": namespaces}
    if userns is not None and host.userns_mode != "host":
        namespaces.append({"type": "user"})
        linux["uidMappings"] = [
            {"containerID": c, "hostID": h, "size": s} for c, h, s in userns.uids
        ]
        linux["gidMappings"] = [
            {"containerID": c, "hostID": h, "size": s} for c, h, s in userns.gids
        ]

    # sysctls: Docker's two defaults in a private network namespace, then the user's
    sysctl: dict[str, str] = {}
    private_net = host.network_mode != "host" and not host.network_mode.startswith("container:")
    if private_net and userns is None:
        for key, value in (("net.ipv4.ping_group_range", "0 2147483647"),
                           ("net.ipv4.ip_unprivileged_port_start", "0")):  # fmt: skip
            if _sysctl_exists(key):
                sysctl[key] = value
    check_sysctls(host.sysctls, namespaces)
    sysctl.update(host.sysctls)
    if sysctl:
        linux["sysctl"] = sysctl

    # mounts
    user: list[dict[str, Any]] = []
    ro_files = host.readonly_rootfs
    for dest, src in (("/etc/resolv.conf", resolv_conf), ("/etc/hostname", hostname_file),
                      ("/etc/hosts", hosts_file)):  # fmt: skip
        if src and not any(m.destination == dest for m in mounts):
            user.append(_bind(ResolvedMount(dest, src, readonly=ro_files)))
    if shm_path and host.ipc_mode != "none":
        user.append(_bind(ResolvedMount("/dev/shm", shm_path)))
    for dest, data in host.tmpfs.items():
        user.append(_tmpfs(dest, [o for o in data.split(",") if o]))
    for rm in mounts:
        if rm.type == "tmpfs":
            user.append(_tmpfs(rm.destination, [*rm.options, *(["ro"] if rm.readonly else [])]))
        else:
            user.append(_bind(rm))
    user.sort(key=lambda m: _depth(m["destination"]))  # stable: parents before children
    user_dests = {m["destination"] for m in user}
    base: list[dict[str, Any]] = []
    for m in default_mounts(host.shm_size or DEFAULT_SHM_SIZE):
        dest = m["destination"]
        if dest in user_dests or ("/dev" in user_dests and dest.startswith("/dev/")):
            continue
        if dest == "/dev/shm" and host.ipc_mode == "none":
            continue
        base.append(m)
    all_mounts = base + extra_mounts + user
    if host.readonly_rootfs:
        for m in base + extra_mounts:
            keep = m["destination"] in ("/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev")
            if not keep and "ro" not in m["options"]:
                m["options"].append("ro")
    if host.privileged:
        for m in base:
            if m["destination"] == "/sys":
                _clear_ro(m)
    writable_cgroups = host.privileged if sec.writable_cgroups is None else sec.writable_cgroups
    if writable_cgroups or userns is not None:
        for m in base:
            if m["type"] == "cgroup":
                _clear_ro(m)

    # masked and read-only paths
    if host.privileged or sec.systempaths_unconfined:
        masked: list[str] = []
        readonly: list[str] = []
    else:
        masked = list(default_masked_paths())
        readonly = list(DEFAULT_READONLY_PATHS)
    if host.masked_paths is not None and not sec.systempaths_unconfined:
        masked = list(host.masked_paths)
    if host.readonly_paths is not None and not sec.systempaths_unconfined:
        readonly = list(host.readonly_paths)
    linux["maskedPaths"] = masked
    linux["readonlyPaths"] = readonly

    # resources, devices, cgroup
    res = resources(host)
    devices, res["devices"] = device_entries(host)
    linux["resources"] = res
    if devices:
        linux["devices"] = devices
    linux["cgroupsPath"] = cgroups_path or f"{host.cgroup_parent or '/hull'}/{container_id}"

    # seccomp: none when privileged or unconfined; the bounding set filters the rules
    if not host.privileged and sec.seccomp != "unconfined":
        if sec.seccomp is None:
            linux["seccomp"] = seccomp_profile.profile_for(caps)
        else:
            profile = seccomp_profile.load_profile(sec.seccomp, caps)
            if profile is not None:
                linux["seccomp"] = profile

    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": host.readonly_rootfs},
        "mounts": all_mounts,
        "linux": linux,
    }
    if not uts_host:
        spec["hostname"] = hostname
        if cfg.domainname:
            spec["domainname"] = cfg.domainname
    if host.annotations:
        spec["annotations"] = dict(host.annotations)
    return spec


__all__ = [
    "DEFAULT_CAPABILITIES",
    "DEFAULT_PATH",
    "INIT_PATH_IN_CONTAINER",
    "IDMappings",
    "ResolvedMount",
    "SecurityOptions",
    "all_capabilities",
    "check_sysctls",
    "command_args",
    "container_capabilities",
    "container_env",
    "default_mounts",
    "devices_from_path",
    "generate_spec",
    "merge_tmpfs_options",
    "parse_device_cgroup_rule",
    "parse_security_opts",
    "resolve_user",
    "resources",
]
