"""Runtime state on disk: ``<root>/<id>/state.json`` and the exec fifo.

The state file is written atomically (temp file, fsync, rename, fsync dir)
so that any reader sees either the old or the new state, never half of one.
Status is not stored but derived, as runc does, from the facts that cannot
go stale: whether the init pid still runs with the same start time, whether
the exec fifo still exists (created, waiting for ``start``) and the freezer.

Status transitions (the verbs that may run in each status):

    creating --create--> created --start--> running --exit--> stopped
                            |                  |  ^
                            |               pause resume
                            |                  v  |
                            +--kill/delete-->  paused
"""

from __future__ import annotations

from hull.errors import Conflict, InvalidArgument, NotFound
from hull.linux import fastos as os
from hull.oci.fastjson import dumps, loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/run/hull-runtime"
OCI_VERSION = "1.0.2"
FIFO = "exec.fifo"

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

# verb -> statuses in which it is legal
ALLOWED: dict[str, tuple[str, ...]] = {
    "start": (CREATED,),
    "kill": (CREATED, RUNNING, PAUSED),
    "pause": (RUNNING, CREATED),
    "resume": (PAUSED,),
    "exec": (RUNNING, CREATED),
    "delete": (STOPPED, CREATED),
}


def check_id(cid: str) -> None:
    """Refuse ids that could name a path outside the state root."""
    ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-."
    if not cid or cid in (".", "..") or len(cid) > 1024 or any(c not in ok for c in cid):
        raise InvalidArgument(
            f"invalid container id {cid!r}: use letters, digits, '_', '+', '-' and '.'"
        )


def atomic_write(path: str, data: bytes, mode: int = 0o600, *, durable: bool = True) -> None:
    """Write a file so readers see the old or the new content, never a mix.

    ``durable`` also fsyncs the file and its directory, for data that must
    survive a power loss.
    """
    d = os.path.dirname(path) or "."
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    if not durable:
        return
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def pid_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat, or None if the pid is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2 :].split()
    if rest[0] in (b"Z", b"X"):
        return None
    return int(rest[19])


def rfc3339_now() -> str:
    """The current UTC time as RFC 3339 with nanoseconds, as runc writes it."""
    import time

    ns = time.time_ns()
    t = time.gmtime(ns // 1_000_000_000)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ns % 1_000_000_000:09d}Z"
    )


class State:
    """What the runtime remembers about one container."""

    __slots__ = ("data", "dir", "id")

    def __init__(self, root: str, cid: str, data: dict[str, Any]) -> None:
        self.id = cid
        self.dir = os.path.join(root, cid)
        self.data = data

    @property
    def pid(self) -> int:
        return int(self.data.get("pid") or 0)

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, FIFO)

    def save(self) -> None:
        # Atomic by rename, without fsync: runtime state describes processes
        # that a power loss ends anyway (it lives under /run by design), and
        # an fsync costs ~1 ms of every start on a disk-backed /run.
        atomic_write(os.path.join(self.dir, "state.json"), dumps(self.data).encode(), durable=False)

    def alive(self) -> bool:
        """Whether the container's init process still runs."""
        pid = self.pid
        return pid > 0 and pid_start_time(pid) == self.data.get("pidStartTime")

    def status(self) -> str:
        if not self.alive():
            return STOPPED
        if os.path.exists(self.fifo):
            return CREATED
        paths = self.data.get("cgroupPaths")
        if paths:
            from hull.runtime.cgroups import load_cgroup_manager

            try:
                if load_cgroup_manager(paths).freezer_state() == "FROZEN":
                    return PAUSED
            except OSError:
                pass
        return RUNNING

    def require(self, verb: str) -> str:
        """Raise Conflict unless ``verb`` is legal in the current status."""
        status = self.status()
        if status not in ALLOWED[verb]:
            raise Conflict(f"cannot {verb} container {self.id}: it is {status}")
        return status

    def oci_state(self) -> dict[str, Any]:
        """The state object of the runtime spec (what ``state`` prints and hooks read)."""
        status = self.status()
        out: dict[str, Any] = {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "pid": self.pid if status != STOPPED else 0,
            "status": status,
            "bundle": self.data.get("bundle", ""),
            "rootfs": self.data.get("rootfs", ""),
            "created": self.data.get("created", ""),
            "owner": "",
        }
        ann = self.data.get("annotations")
        if ann:
            out["annotations"] = ann
        return out


def load(root: str, cid: str) -> State:
    """The state of container ``cid``; NotFound if there is none."""
    check_id(cid)
    path = os.path.join(root, cid, "state.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise NotFound(f"container {cid} does not exist") from None
    try:
        data = loads(raw)
    except ValueError as exc:
        raise InvalidArgument(f"state of container {cid} is corrupt ({path}): {exc}") from None
    return State(root, cid, data)


def list_ids(root: str) -> list[str]:
    """Ids of every container with a state directory under ``root``."""
    try:
        return sorted(
            e for e in os.listdir(root) if os.path.isfile(os.path.join(root, e, "state.json"))
        )
    except FileNotFoundError:
        return []
