"""Values of ``run``/``create`` flags that have a grammar of their own.

Env and label files, ``-p`` port specs, ``-v`` and ``--mount`` specs,
``--device`` and the block-IO throttles, ``--ulimit``: each parsed as the
docker CLI's ``opts`` package parses it, with its messages. ``runopts``
puts the results into the create request.
"""

from __future__ import annotations

import os
import re

from hull.engine.units import parse_ulimit, ram_in_bytes
from hull.errors import InvalidArgument

from .errors import UsageError

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PROG = "hull run"


def _bad(flag: str, value: str, why: str) -> UsageError:
    return UsageError(f'invalid argument "{value}" for "{flag}" flag: {why}', PROG)


def _size(value: str, flag: str) -> int:
    if value == "":
        return 0
    try:
        return ram_in_bytes(value)
    except InvalidArgument as exc:
        raise _bad(flag, value, exc.message) from None


_ENV_NAME_WS = re.compile(r"\s")


def read_kv_file(path: str, lookup: bool) -> list[str]:
    """The docker CLI's ``parseKeyValueFile``: env files (``lookup``) and label files."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"open {path}: {(exc.strerror or str(exc)).lower()}", PROG) from None
    lines = []
    for num, raw in enumerate(text.splitlines(), 1):
        if num == 1:
            raw = raw.removeprefix("\ufeff")
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.lstrip()
        if _ENV_NAME_WS.search(key):
            raise UsageError(f"variable '{key}' contains whitespaces", PROG)
        if not key:
            raise UsageError(f"no variable name on line '{line}'", PROG)
        if sep:
            lines.append(f"{key}={value}")
        elif lookup and line.strip() in os.environ:
            lines.append(f"{line.strip()}={os.environ[line.strip()]}")
    return lines


def _env(files: list[str], values: list[str]) -> list[str]:
    out = [e for f in files for e in read_kv_file(f, lookup=True)]
    for v in values:
        name, sep, _ = v.partition("=")
        if not name:
            raise UsageError(f"invalid environment variable: {v}", PROG)
        if not sep and name in os.environ:
            v = f"{name}={os.environ[name]}"
        out.append(v)
    return out


def _labels(files: list[str], values: list[str]) -> dict[str, str] | None:
    items = [e for f in files for e in read_kv_file(f, lookup=False)] + values
    out: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


# -- ports -------------------------------------------------------------------------------


def _port_range(text: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    if not start.isdigit() or (sep and not end.isdigit()):
        raise ValueError(text)
    lo = int(start)
    hi = int(end) if sep else lo
    if lo > 65535 or hi > 65535 or hi < lo:
        raise ValueError(text)
    return lo, hi


def _split_proto(raw: str) -> tuple[str, str]:
    port, sep, proto = raw.partition("/")
    return (proto.lower() if sep else "tcp"), port


def _long_publish(spec: str) -> str:
    """``target=80,published=8080,protocol=udp`` → ``8080:80/udp`` (convertToStandardNotation)."""
    fields: dict[str, str] = {}
    for part in spec.split(","):
        k, sep, v = part.partition("=")
        if not sep:
            raise UsageError(f"invalid field {part} must be a key=value pair", PROG)
        fields[k.strip().lower()] = v.strip()
    target = fields.get("target", "")
    if not target:
        raise UsageError('missing mandatory field "target"', PROG)
    out = f"{fields['published']}:{target}" if fields.get("published") else target
    return f"{out}/{fields.get('protocol', 'tcp')}"


def parse_ports(
    specs: list[str], expose: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, str]]]]:
    """``nat.ParsePortSpecs`` plus ``--expose``: (ExposedPorts, PortBindings)."""
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        raw = _long_publish(spec) if "=" in spec else spec
        ip = ""
        rest = raw
        if raw.startswith("["):  # [::1]:80:80
            end = raw.find("]")
            ip, rest = raw[1:end], raw[end + 2 :]
            parts = ["", *rest.split(":")] if rest else [""]
            host_port, container = (parts[1], parts[2]) if len(parts) == 3 else ("", parts[-1])
        else:
            parts = raw.split(":")
            if len(parts) == 1:
                host_port, container = "", parts[0]
            elif len(parts) == 2:
                host_port, container = parts
            elif len(parts) == 3:
                ip, host_port, container = parts
            else:
                ip = ":".join(parts[:-2])
                host_port, container = parts[-2], parts[-1]
        if ip and not _valid_ip(ip):
            raise UsageError(f"invalid ip address: {ip}", PROG)
        proto, cport = _split_proto(container)
        if not cport:
            raise UsageError(f"no port specified: {raw}<empty>", PROG)
        if proto not in ("tcp", "udp", "sctp"):
            raise UsageError(f"invalid proto: {proto}", PROG)
        try:
            clo, chi = _port_range(cport)
        except ValueError:
            raise UsageError(f"invalid containerPort: {cport}", PROG) from None
        hlo = hhi = 0
        if host_port:
            try:
                hlo, hhi = _port_range(host_port)
            except ValueError:
                raise UsageError(f"invalid hostPort: {host_port}", PROG) from None
            if hhi - hlo != chi - clo and hhi - hlo != 0 and chi != clo:
                raise UsageError(
                    f"invalid ranges specified for container and host Ports: {cport} and "
                    f"{host_port}",
                    PROG,
                )
        for i in range(chi - clo + 1):
            key = f"{clo + i}/{proto}"
            exposed[key] = {}
            if not host_port:
                hp = ""
            elif chi != clo and hhi - hlo == chi - clo:
                hp = str(hlo + i)
            elif hlo != hhi:
                hp = f"{hlo}-{hhi}"
            else:
                hp = str(hlo)
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": hp})
    for e in expose:
        if ":" in e:
            raise UsageError(f"invalid port format for --expose: {e}", PROG)
        proto, port = _split_proto(e)
        try:
            lo, hi = _port_range(port)
        except ValueError:
            raise UsageError(f"invalid range format for --expose: {e}", PROG) from None
        for n in range(lo, hi + 1):
            exposed.setdefault(f"{n}/{proto}", {})
    return exposed, bindings


def _valid_ip(ip: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return False
    return True


# -- volumes and mounts ------------------------------------------------------------------


def split_volume(spec: str) -> tuple[str, str, str]:
    """``-v [SRC:]DST[:OPTS]`` → (source, target, mode); source "" for anonymous."""
    parts = spec.split(":")
    if len(parts) == 1:
        src, dst, mode = "", parts[0], ""
    elif len(parts) == 2:
        if parts[1].startswith("/"):
            src, dst, mode = parts[0], parts[1], ""
        else:
            src, dst, mode = "", parts[0], parts[1]
    elif len(parts) == 3:
        src, dst, mode = parts
    else:
        raise UsageError(f"invalid spec: {spec}: too many colons", PROG)
    if not dst:
        raise UsageError(f"invalid spec: {spec}: empty section between colons", PROG)
    if not dst.startswith("/"):
        raise UsageError(
            f"invalid mount config for type \"volume\": invalid mount path: '{dst}' "
            "mount path must be absolute",
            PROG,
        )
    if src == "" and len(parts) == 3:
        raise UsageError(f"invalid spec: {spec}: empty section between colons", PROG)
    for m in filter(None, mode.split(",")):
        if m not in _VOLUME_MODES:
            raise UsageError(f"invalid mode: {mode}", PROG)
    return src, dst, mode


_VOLUME_MODES = {
    "ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private",
    "rprivate", "delegated", "cached", "consistent",
}  # fmt: skip


def _bool_field(key: str, value: str | None) -> bool:
    if value is None:
        return True
    v = value.lower()
    if v in ("1", "true", "t"):
        return True
    if v in ("0", "false", "f"):
        return False
    raise UsageError(f"invalid value for {key}: {value}", PROG)


def parse_mount(spec: str) -> dict[str, Any]:
    """``--mount type=bind,source=/a,target=/b,readonly`` → a ``mount.Mount``."""
    m: dict[str, Any] = {"Type": "volume"}
    fields: list[tuple[str, str | None]] = []
    for part in spec.split(","):
        if not part:
            continue
        key, sep, val = part.partition("=")
        fields.append((key.strip().lower(), val if sep else None))
    for k, v in fields:
        if k == "type":
            m["Type"] = v
    kind = m["Type"]
    if kind not in ("bind", "volume", "tmpfs", "npipe"):
        raise UsageError(
            f'invalid argument "{spec}" for "--mount" flag: unknown mount type: {kind}', PROG
        )
    for k, v in fields:
        if k == "type":
            continue
        if k in ("readonly", "ro"):
            m["ReadOnly"] = _bool_field(k, v)
            continue
        if v is None:
            if k == "volume-nocopy":
                m.setdefault("VolumeOptions", {})["NoCopy"] = True
                continue
            raise UsageError(
                f'invalid argument "{spec}" for "--mount" flag: invalid field \'{k}\' must be '
                "a key=value pair",
                PROG,
            )
        if k in ("source", "src"):
            m["Source"] = v
        elif k in ("target", "dst", "destination"):
            m["Target"] = v
        elif k == "consistency":
            m["Consistency"] = v
        elif k == "bind-propagation":
            m.setdefault("BindOptions", {})["Propagation"] = v
        elif k == "bind-nonrecursive":
            m.setdefault("BindOptions", {})["NonRecursive"] = _bool_field(k, v)
        elif k == "volume-nocopy":
            m.setdefault("VolumeOptions", {})["NoCopy"] = _bool_field(k, v)
        elif k == "volume-label":
            lk, _, lv = v.partition("=")
            m.setdefault("VolumeOptions", {}).setdefault("Labels", {})[lk] = lv
        elif k == "volume-driver":
            m.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})["Name"] = v
        elif k == "volume-opt":
            ok, _, ov = v.partition("=")
            dc = m.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})
            dc.setdefault("Options", {})[ok] = ov
        elif k == "tmpfs-size":
            m.setdefault("TmpfsOptions", {})["SizeBytes"] = _size(v, "--mount")
        elif k == "tmpfs-mode":
            try:
                m.setdefault("TmpfsOptions", {})["Mode"] = int(v, 8)
            except ValueError:
                raise UsageError(f"invalid value for {k}: {v}", PROG) from None
        else:
            raise UsageError(
                f'invalid argument "{spec}" for "--mount" flag: unexpected key \'{k}\' in '
                f"'{k}={v}'",
                PROG,
            )
    if not m.get("Target"):
        raise UsageError(f'invalid argument "{spec}" for "--mount" flag: target is required', PROG)
    if kind != "bind" and "BindOptions" in m:
        raise UsageError(f"cannot mix 'bind-*' options with mount type '{kind}'", PROG)
    if kind != "volume" and "VolumeOptions" in m:
        raise UsageError(f"cannot mix 'volume-*' options with mount type '{kind}'", PROG)
    if kind != "tmpfs" and "TmpfsOptions" in m:
        raise UsageError(f"cannot mix 'tmpfs-*' options with mount type '{kind}'", PROG)
    return m


# -- devices, throttles, ulimits -----------------------------------------------------------


def parse_device(spec: str) -> dict[str, str]:
    """``/dev/sda[:/dev/xvda][:rwm]`` → a DeviceMapping."""
    parts = spec.split(":")
    src, dst, perms = parts[0], "", "rwm"
    if len(parts) == 2:
        if _valid_perms(parts[1]):
            perms = parts[1]
        else:
            dst = parts[1]
    elif len(parts) == 3:
        dst, perms = parts[1], parts[2]
    elif len(parts) > 3:
        raise UsageError(f"invalid device specification: {spec}", PROG)
    if not _valid_perms(perms) or not src.startswith("/") or (dst and not dst.startswith("/")):
        raise UsageError(f"invalid device specification: {spec}", PROG)
    return {"PathOnHost": src, "PathInContainer": dst or src, "CgroupPermissions": perms}


def _valid_perms(p: str) -> bool:
    return bool(p) and all(c in "rwm" for c in p) and len(set(p)) == len(p)


def _throttle(specs: list[str], flag: str, iops: bool) -> list[dict[str, Any]] | None:
    out: list[dict[str, Any]] = []
    for spec in specs:
        path, sep, rate = spec.rpartition(":")
        if not sep or not path.startswith("/dev/"):
            raise _bad(flag, spec, f"bad format: {spec}")
        if iops:
            if not rate.isdigit():
                raise _bad(
                    flag,
                    spec,
                    f"invalid rate for device: {spec}. The correct format "
                    "is <device-path>:<number>. Number must be a positive integer",
                )
            value = int(rate)
        else:
            try:
                value = ram_in_bytes(rate)
            except InvalidArgument:
                raise _bad(
                    flag,
                    spec,
                    f"invalid rate for device: {spec}. The correct format "
                    "is <device-path>:<number>[<unit>]. Number must be a positive "
                    "integer. Unit is optional and can be kb, mb, or gb",
                ) from None
        out.append({"Path": path, "Rate": value})
    return out


def _weight_devices(specs: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for spec in specs:
        path, sep, w = spec.rpartition(":")
        if not sep or not path.startswith("/dev/") or not w.isdigit():
            raise _bad("--blkio-weight-device", spec, f"bad format: {spec}")
        weight = int(w)
        if weight and not 10 <= weight <= 1000:
            raise _bad("--blkio-weight-device", spec, f"invalid weight for device: {spec}")
        out.append({"Path": path, "Weight": weight})
    return out


def _ulimits(specs: list[str]) -> list[dict[str, Any]]:
    out = []
    for spec in specs:
        try:
            name, soft, hard = parse_ulimit(spec)
        except InvalidArgument as exc:
            raise _bad("--ulimit", spec, exc.message) from None
        out.append({"Name": name, "Hard": hard, "Soft": soft})
    return out
