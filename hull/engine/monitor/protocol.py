"""The monitor's wire protocol: JSON lines over ``<state-dir>/monitor.sock``.

A client sends one request line ``{"op": ..., ...}`` and reads one reply line::

    {"ok": true, ...}
    {"ok": false, "error": "no such container: x", "kind": "not_found", "exit_code": 127}

``kind`` is a :mod:`hull.errors` kind; ``exit_code`` (126/127) rides along
when the container's program could not be run. A connection may carry several
plain requests in turn; four ops turn it into something else after the reply:

======== ============================================================================
op       after the ``ok`` reply
======== ============================================================================
attach   raw bytes both ways: container output (8-byte multiplexed frames without a
         TTY, raw with one) to the client; client bytes to stdin; client EOF closes
         stdin when the container was started with ``stdin_once``
start    same as attach when the request has ``"attach": {...}`` (no output is lost)
exec     same, for the exec process
events   one JSON line per event: ``{"type": "start"|"exit"|"oom", "id", ...}``
wait     (the reply itself is delayed until the process has exited)
======== ============================================================================

Other ops: ``resize``, ``kill``, ``list``, ``forget``, ``ping``. The request
shapes are the dataclasses below; :func:`parse_request` validates a decoded
line once, at the edge, naming the bad field.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from hull import errors

MAX_LINE = 1 << 20  # a request line longer than this is refused
STDIN, STDOUT, STDERR = 0, 1, 2
_HEADER = struct.Struct(">BxxxL")  # Docker's stdcopy header (see hull/api/stdcopy.py)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

OPS = ("start", "exec", "attach", "resize", "kill", "list", "wait", "events", "forget", "ping")


def frame(stream: int, data: bytes) -> bytes:
    """One frame of Docker's multiplexed stream: header then payload."""
    return _HEADER.pack(stream, len(data)) + data


def encode(obj: dict[str, Any]) -> bytes:
    """One protocol line."""
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def error_reply(exc: BaseException) -> dict[str, Any]:
    """The reply line for a failure."""
    if isinstance(exc, errors.HullError):
        reply: dict[str, Any] = {"ok": False, "error": exc.message, "kind": exc.kind}
        if isinstance(exc, errors.ContainerExit):
            reply["exit_code"] = exc.exit_code
        return reply
    return {"ok": False, "error": f"monitor: {exc}", "kind": "internal"}


_KINDS: dict[str, type[errors.HullError]] = {
    "not_found": errors.NotFound,
    "already_exists": errors.AlreadyExists,
    "invalid_argument": errors.InvalidArgument,
    "conflict": errors.Conflict,
    "failed_precondition": errors.FailedPrecondition,
    "unavailable": errors.Unavailable,
    "unauthorized": errors.Unauthorized,
    "internal": errors.Internal,
}


def raise_for_reply(reply: dict[str, Any]) -> dict[str, Any]:
    """The reply itself if ``ok``, else the :mod:`hull.errors` exception it names."""
    if reply.get("ok"):
        return reply
    message = str(reply.get("error") or "monitor: request failed")
    code = reply.get("exit_code")
    if isinstance(code, int):
        raise errors.ContainerExit(message, code)
    raise _KINDS.get(str(reply.get("kind")), errors.Internal)(message)


# -- request shapes ---------------------------------------------------------


def _get(d: dict[str, Any], key: str, kind: type, default: Any = ..., *, op: str) -> Any:
    if key not in d or d[key] is None:
        if default is ...:
            raise errors.InvalidArgument(f"monitor {op}: {key!r} is required")
        return default
    v = d[key]
    if kind is int and isinstance(v, bool):
        raise errors.InvalidArgument(f"monitor {op}: {key!r} must be an integer")
    if not isinstance(v, kind):
        raise errors.InvalidArgument(f"monitor {op}: {key!r} must be {kind.__name__}")
    return v


def _ident(d: dict[str, Any], key: str, op: str, default: Any = ...) -> Any:
    v = _get(d, key, str, default, op=op)
    if isinstance(v, str) and not _ID.match(v):
        raise errors.InvalidArgument(f"monitor {op}: invalid {key} {v!r}")
    return v


@dataclass(frozen=True, slots=True)
class LogConfig:
    path: str
    max_size: int = 0
    max_file: int = 1


@dataclass(frozen=True, slots=True)
class Streams:
    """Which streams an attach wants."""

    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    stream_logs: bool = False

    @staticmethod
    def parse(d: dict[str, Any], op: str) -> Streams:
        return Streams(
            stdin=_get(d, "stdin", bool, False, op=op),
            stdout=_get(d, "stdout", bool, True, op=op),
            stderr=_get(d, "stderr", bool, True, op=op),
            stream_logs=_get(d, "stream_logs", bool, False, op=op),
        )


@dataclass(frozen=True, slots=True)
class RuntimeRef:
    """Which OCI runtime drives a container, and its global flags."""

    path: str
    root: str
    args: tuple[str, ...] = ()

    def argv(self, *verb: str) -> list[str]:
        return [self.path, "--root", self.root, *self.args, *verb]


def _runtime(d: dict[str, Any], op: str) -> RuntimeRef:
    args = _get(d, "runtime_args", list, [], op=op)
    if not all(isinstance(a, str) for a in args):
        raise errors.InvalidArgument(f"monitor {op}: 'runtime_args' must be strings")
    return RuntimeRef(
        _get(d, "runtime", str, op=op), _get(d, "runtime_root", str, op=op), tuple(args)
    )


@dataclass(frozen=True, slots=True)
class StartRequest:
    id: str
    bundle: str
    runtime: RuntimeRef
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False
    log: LogConfig | None = None
    exit_file: str | None = None
    cgroup_memory: str | None = None
    attach: Streams | None = None


@dataclass(frozen=True, slots=True)
class ExecRequest:
    id: str
    exec_id: str
    process: dict[str, Any]
    runtime: RuntimeRef
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = True
    exit_file: str | None = None
    attach: Streams | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """A container (``id``) or an exec process (``exec_id``)."""

    id: str | None = None
    exec_id: str | None = None

    def __str__(self) -> str:
        return f"exec {self.exec_id}" if self.exec_id else f"container {self.id}"


def _target(d: dict[str, Any], op: str) -> Target:
    t = Target(_ident(d, "id", op, None), _ident(d, "exec_id", op, None))
    if t.id is None and t.exec_id is None:
        raise errors.InvalidArgument(f"monitor {op}: 'id' or 'exec_id' is required")
    return t


@dataclass(frozen=True, slots=True)
class AttachRequest:
    target: Target
    streams: Streams


@dataclass(frozen=True, slots=True)
class ResizeRequest:
    target: Target
    height: int
    width: int


@dataclass(frozen=True, slots=True)
class KillRequest:
    target: Target
    signal: int = 15
    all: bool = False


@dataclass(frozen=True, slots=True)
class Simple:
    """Requests with at most a target: list, wait, events, forget, ping."""

    op: str
    target: Target = field(default_factory=Target)


Request = StartRequest | ExecRequest | AttachRequest | ResizeRequest | KillRequest | Simple


def _attach(d: dict[str, Any], op: str) -> Streams | None:
    a = _get(d, "attach", dict, None, op=op)
    return None if a is None else Streams.parse(a, op)


def parse_request(d: Any) -> Request:
    """A typed request from a decoded line; InvalidArgument names the bad field."""
    if not isinstance(d, dict):
        raise errors.InvalidArgument("monitor: a request is a JSON object")
    op = d.get("op")
    if op not in OPS:
        raise errors.InvalidArgument(f"monitor: unknown op {op!r}")
    if op == "start":
        log = _get(d, "log", dict, None, op=op)
        return StartRequest(
            id=_ident(d, "id", op),
            bundle=_get(d, "bundle", str, op=op),
            runtime=_runtime(d, op),
            tty=_get(d, "tty", bool, False, op=op),
            open_stdin=_get(d, "open_stdin", bool, False, op=op),
            stdin_once=_get(d, "stdin_once", bool, False, op=op),
            log=None
            if log is None
            else LogConfig(
                _get(log, "path", str, op=op),
                max(0, _get(log, "max_size", int, 0, op=op)),
                max(1, _get(log, "max_file", int, 1, op=op)),
            ),
            exit_file=_get(d, "exit_file", str, None, op=op),
            cgroup_memory=_get(d, "cgroup_memory", str, None, op=op),
            attach=_attach(d, op),
        )
    if op == "exec":
        return ExecRequest(
            id=_ident(d, "id", op),
            exec_id=_ident(d, "exec_id", op),
            process=_get(d, "process", dict, op=op),
            runtime=_runtime(d, op),
            tty=_get(d, "tty", bool, False, op=op),
            open_stdin=_get(d, "open_stdin", bool, False, op=op),
            stdin_once=_get(d, "stdin_once", bool, True, op=op),
            exit_file=_get(d, "exit_file", str, None, op=op),
            attach=_attach(d, op),
        )
    if op == "attach":
        return AttachRequest(_target(d, op), Streams.parse(d, op))
    if op == "resize":
        return ResizeRequest(
            _target(d, op), _get(d, "height", int, op=op), _get(d, "width", int, op=op)
        )
    if op == "kill":
        sig = _get(d, "signal", int, 15, op=op)
        if not 1 <= sig <= 64:
            raise errors.InvalidArgument(f"monitor kill: invalid signal {sig}")
        return KillRequest(_target(d, op), sig, _get(d, "all", bool, False, op=op))
    if op in ("wait", "forget"):
        return Simple(op, _target(d, op))
    return Simple(op)


__all__ = [
    "MAX_LINE",
    "OPS",
    "STDERR",
    "STDIN",
    "STDOUT",
    "AttachRequest",
    "ExecRequest",
    "KillRequest",
    "LogConfig",
    "Request",
    "ResizeRequest",
    "RuntimeRef",
    "Simple",
    "StartRequest",
    "Streams",
    "Target",
    "encode",
    "error_reply",
    "frame",
    "parse_request",
    "raise_for_reply",
]
