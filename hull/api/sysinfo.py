"""Facts about the host and this build that ``/version`` and ``/info`` report.

Read from the kernel's files once where they cannot change (os-release,
MemTotal, the build's commit) and on demand where they can.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import hull

# Go's GOARCH names, which clients compare against image platforms
_GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i686": "386",
    "i386": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def go_arch() -> str:
    """This machine in Go's spelling (``amd64``), as Docker's ``Arch``."""
    m = platform.machine()
    return _GOARCH.get(m, m)


def kernel_version() -> str:
    return os.uname().release


@functools.cache
def os_release() -> dict[str, str]:
    """``/etc/os-release`` (or ``/usr/lib/os-release``) as a dict."""
    for p in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = Path(p).read_text()
        except OSError:
            continue
        out = {}
        for line in text.splitlines():
            k, sep, v = line.partition("=")
            if sep and not k.startswith("#"):
                out[k.strip()] = v.strip().strip("\"'")
        return out
    return {}


def operating_system() -> str:
    r = os_release()
    return r.get("PRETTY_NAME") or r.get("NAME") or "Linux"


@functools.cache
def mem_total() -> int:
    """Physical memory in bytes (``/proc/meminfo``)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cgroup_version() -> str:
    """ "2" on a unified-only host, else "1" (Docker's CgroupVersion)."""
    from hull.runtime.cgroups import host_layout

    try:
        return "2" if host_layout() == "v2" else "1"
    except Exception:
        return "1"


def cgroup_features() -> dict[str, bool]:
    """Which limits the host's cgroups can apply (``/info``'s MemoryLimit, SwapLimit...)."""
    if cgroup_version() == "2":
        root = Path("/sys/fs/cgroup")
        try:
            ctrls = set((root / "cgroup.controllers").read_text().split())
        except OSError:
            ctrls = set()
        return {
            "MemoryLimit": "memory" in ctrls,
            "SwapLimit": "memory" in ctrls,
            "CpuCfsPeriod": "cpu" in ctrls,
            "CpuCfsQuota": "cpu" in ctrls,
            "CPUShares": "cpu" in ctrls,
            "CPUSet": "cpuset" in ctrls,
            "PidsLimit": "pids" in ctrls,
            "OomKillDisable": False,
        }
    v1 = Path("/sys/fs/cgroup")
    return {
        "MemoryLimit": (v1 / "memory" / "memory.limit_in_bytes").exists(),
        "SwapLimit": (v1 / "memory" / "memory.memsw.limit_in_bytes").exists(),
        "CpuCfsPeriod": (v1 / "cpu" / "cpu.cfs_period_us").exists(),
        "CpuCfsQuota": (v1 / "cpu" / "cpu.cfs_quota_us").exists(),
        "CPUShares": (v1 / "cpu" / "cpu.shares").exists(),
        "CPUSet": (v1 / "cpuset").exists(),
        "PidsLimit": (v1 / "pids").exists(),
        "OomKillDisable": (v1 / "memory" / "memory.oom_control").exists(),
    }


def ip_forwarding() -> bool:
    try:
        return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"
    except OSError:
        return False


def bridge_nf(family: str) -> bool:
    """Whether bridged traffic passes ``{family}tables`` (br_netfilter loaded and on)."""
    try:
        path = Path(f"/proc/sys/net/bridge/bridge-nf-call-{family}tables")
        return path.read_text().strip() == "1"
    except OSError:
        return False


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def engine_id(data_root: Path) -> str:
    """A UUID that names this engine, kept in ``<data-root>/engine-id`` (dockerd does the same)."""
    path = data_root / "engine-id"
    try:
        text = path.read_text().strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    new = str(uuid.uuid4())
    data_root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".engine-id.{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(new + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return new


@functools.cache
def git_commit() -> str:
    """The commit of the source tree hull runs from, if it is a git checkout."""
    root = Path(hull.__file__).resolve().parent.parent / ".git"
    try:
        head = (root / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            p = root / ref
            if p.exists():
                return p.read_text().strip()[:7]
            for line in (root / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref):
                    return line[:7]
            return ""
        return head[:7]
    except OSError:
        return ""


@functools.cache
def build_time() -> str:
    """When this copy of hull was installed (the package's mtime), RFC 3339."""
    try:
        mtime = Path(hull.__file__).stat().st_mtime
    except OSError:
        return ""
    return datetime.fromtimestamp(mtime, UTC).isoformat(timespec="seconds")


def python_version() -> str:
    """What Docker's ``GoVersion`` reports for hull: the interpreter."""
    return f"python{platform.python_version()}"


@functools.cache
def runtime_version(path: str) -> tuple[str, str]:
    """(version, commit) of an OCI runtime from ``PATH --version`` (runc's format)."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "", ""
    version = commit = ""
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == "version":
            version = version or words[2]
        elif len(words) >= 2 and words[0] == "commit:":
            commit = words[1]
    return version, commit


def rfc3339_nano(ns: int) -> str:
    """A nanosecond timestamp as Go's RFC3339Nano in UTC."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    frac = f"{ns % 1_000_000_000:09d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"
