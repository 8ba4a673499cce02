"""The typed protocol between the runtime (parent) and the container's init.

Two pipes, one per direction; each message is a type byte, a 4-byte
little-endian length and a payload. Plain int constants rather than an Enum:
importing :mod:`enum` costs ~4 ms on the runtime's hot path.

    init -> parent   READY_SETUP   init exists in its new namespaces (not sent
                                   when quiet_setup: `run` without parent hooks)
    parent -> init   GO_SETUP      payload: the state JSON for hooks and a
                                   seccomp agent, else empty (sent after the
                                   uid/gid maps of a new user namespace); init
                                   starts mounting. Its cgroup was made, with
                                   every device rule and limit, before the clone
    parent -> init   CGROUP_DONE   the parent has moved init where init cannot
                                   join by itself (v2, the unified tree, a user
                                   namespace); init joins its v1 hierarchies
                                   itself (no RCU-slow migration by the
                                   parent). init waits for it before its first
                                   cgroup mount, else before RUN_HOOKS
    parent -> init   CONFIGURED    oomScoreAdj is set: init waits for it before
                                   RUN_HOOKS's answer, else before CREATED
    init -> parent   RUN_HOOKS     mounts done, before pivot_root (parent runs
                                   prestart + createRuntime hooks); only when
                                   the spec has such hooks (both sides know)
    parent -> init   HOOKS_DONE
    init -> parent   CREATED       init is set up (not sent with auto_start:
                                   `run` waits for the exec or an ERROR)
    parent -> init   START         exec the process now: only `run` with a
                                   foreground terminal (the parent sets the
                                   pty's size first); `create` waits on the
                                   exec fifo instead, other `run`s go on at once
    init -> parent   ERROR         payload: "<exit code>:<message>"; init exits
    init -> parent   <EOF>         after CREATED: the execve succeeded (pipes
                                   are close-on-exec)

The terminal's pty master is not on these pipes: init sends it itself over
the console socket (SCM_RIGHTS), as runc does.
"""

from __future__ import annotations

from hull.linux import fastos as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.oci.runtime_spec import Spec

READY_SETUP = 1
GO_SETUP = 2
RUN_HOOKS = 3
HOOKS_DONE = 4
CREATED = 5
START = 6
ERROR = 7
CGROUP_DONE = 8
CONFIGURED = 9

NAMES = {
    READY_SETUP: "READY_SETUP",
    GO_SETUP: "GO_SETUP",
    RUN_HOOKS: "RUN_HOOKS",
    HOOKS_DONE: "HOOKS_DONE",
    CREATED: "CREATED",
    START: "START",
    ERROR: "ERROR",
    CGROUP_DONE: "CGROUP_DONE",
    CONFIGURED: "CONFIGURED",
}


class ProtocolError(Exception):
    """The other side broke the protocol or went away."""


def send(fd: int, kind: int, payload: bytes = b"") -> None:
    """Write one message."""
    msg = bytes((kind,)) + len(payload).to_bytes(4, "little") + payload
    while msg:
        n = os.write(fd, msg)
        msg = msg[n:]


def _read_exact(fd: int, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def recv(fd: int) -> tuple[int, bytes] | None:
    """Read one message; None at end of file."""
    head = _read_exact(fd, 5)
    if not head:
        return None
    if len(head) < 5:
        raise ProtocolError("truncated message header")
    size = int.from_bytes(head[1:], "little")
    payload = _read_exact(fd, size)
    if len(payload) < size:
        raise ProtocolError("truncated message payload")
    return head[0], payload


def expect(fd: int, kind: int) -> bytes:
    """Read one message of the given type; an ERROR becomes an InitError."""
    msg = recv(fd)
    if msg is None:
        raise ProtocolError(f"peer exited while waiting for {NAMES[kind]}")
    got, payload = msg
    if got == ERROR:
        raise InitError.from_payload(payload)
    if got != kind:
        raise ProtocolError(f"expected {NAMES[kind]}, got {NAMES.get(got, got)}")
    return payload


def send_or_report(wfd: int, rfd: int, kind: int, payload: bytes = b"") -> None:
    """Send to init; if it is gone, raise the error it reported instead of EPIPE."""
    try:
        send(wfd, kind, payload)
    except BrokenPipeError:
        err = child_error(rfd)
        if err is None:
            raise
        raise err from None


def child_error(rfd: int) -> InitError | None:
    """The ERROR init reported before it exited, if any (skipping earlier messages)."""
    try:
        while (msg := recv(rfd)) is not None:
            if msg[0] == ERROR:
                return InitError.from_payload(msg[1])
    except (OSError, ProtocolError):
        pass
    return None


def parent_hooks(spec: Spec) -> bool:
    """Whether the RUN_HOOKS / HOOKS_DONE exchange happens (the same answer on both sides)."""
    return bool(spec.hooks.get("prestart") or spec.hooks.get("createRuntime"))


def quiet_setup(spec: Spec, auto_start: bool) -> bool:
    """Whether init sets up without a word until its exec or error (same on both sides).

    `run` with no parent hooks: nothing the parent does waits for init, and
    each message would wake it (see container._start_and_wait).
    """
    return auto_start and not parent_hooks(spec)


class InitError(Exception):
    """The container's init reported a failure."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    @classmethod
    def from_payload(cls, payload: bytes) -> InitError:
        text = payload.decode("utf-8", "replace")
        code, _, message = text.partition(":")
        try:
            return cls(message, int(code))
        except ValueError:
            return cls(text, 1)

    def payload(self) -> bytes:
        return f"{self.exit_code}:{self}".encode()
