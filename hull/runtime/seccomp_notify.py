"""Hand a seccomp notify listener to the agent at ``linux.seccomp.listenerPath``.

With ``SCMP_ACT_NOTIFY`` rules, loading the filter returns a listener fd
whose reader decides those syscalls for the container (an agent emulating
``mknod``, ``mount``...). The runtime spec has the runtime connect to the
unix stream socket at ``listenerPath`` and send, in one message, the
*container process state* with the fd attached (``SCM_RIGHTS``), then close
the connection: one state per connection.

    {"ociVersion": "1.0.2", "fds": ["seccompFd"], "pid": <host pid>,
     "metadata": <listenerMetadata>, "state": <the container's OCI state>}

Who does what: the filter is loaded by the container's process itself, just
before execve (inside the container's mount namespace, where the host's
``listenerPath`` is out of reach, and in a user namespace without the
host's permissions). So the runtime connects *before* it forks that
process, from the host; the process inherits the connected socket
(close-on-exec), loads its filter, sends the state and the listener over it
and closes both. A failure to connect fails ``create``/``exec`` with a
clear message; a failure to send fails the start of the process (no
program runs under a filter whose agent never got the listener).
"""

from __future__ import annotations

from hull.errors import InvalidArgument
from hull.linux import fastos as os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from hull.oci.runtime_spec import Seccomp

OCI_VERSION = "1.0.2"
SECCOMP_FD_NAME = "seccompFd"


def wants_listener(seccomp: Seccomp | None) -> bool:
    """Whether the profile has notify rules and a ``listenerPath`` to send them to."""
    return (
        seccomp is not None
        and bool(seccomp.listener_path)
        and any(sc.action == "SCMP_ACT_NOTIFY" for sc in seccomp.syscalls)
    )


def connect_listener(seccomp: Seccomp | None) -> int:
    """A connected socket to ``listenerPath`` (close-on-exec), or -1 when not wanted."""
    if seccomp is None or not wants_listener(seccomp):
        return -1
    import _socket

    path = seccomp.listener_path
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as exc:
        s.close()
        raise InvalidArgument(
            f"config.json: linux.seccomp.listenerPath {path}: cannot connect: {exc.strerror}"
            " (is the seccomp agent listening?)"
        ) from None
    return int(s.detach())


def send_listener(sock: int, listener: int, seccomp: Seccomp, state: dict[str, Any]) -> None:
    """Send the container process state with ``listener`` over ``sock``, then close ``sock``."""
    import _socket

    from hull.oci.fastjson import dumps

    msg = {
        "ociVersion": OCI_VERSION,
        "fds": [SECCOMP_FD_NAME],
        "pid": state.get("pid", 0),
        "metadata": seccomp.listener_metadata,
        "state": state,
    }
    s = _socket.socket(fileno=sock)
    try:
        s.sendmsg(
            [dumps(msg).encode()],
            [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, listener.to_bytes(4, "little"))],
        )
    except OSError as exc:
        raise InvalidArgument(
            f"cannot send the seccomp listener to {seccomp.listener_path}: {exc.strerror}"
        ) from None
    finally:
        s.close()


def close_quietly(fd: int) -> None:
    """Close ``fd`` if it is one (the parent's copy of a listener connection)."""
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass
