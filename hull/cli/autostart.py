"""Start ``hulld`` when the default socket has no daemon behind it.

Only for the default address: a ``-H``/``HULL_HOST`` the user chose is
never started behind their back. The daemon runs detached (its own
session, stdio to ``<exec-root>/hulld.log``), so it outlives the CLI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from hull.errors import Unavailable

DEFAULT_EXEC_ROOT = Path("/run/hull")
WAIT_SECONDS = 5.0


def _alive(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def hulld_command() -> list[str]:
    """The fast ``hulld`` launcher beside this interpreter, else the module."""
    beside = Path(sys.executable).parent / "hulld"
    if beside.exists():
        return [str(beside)]
    return [sys.executable, "-c", "import sys; from hull.api.daemon import main; sys.exit(main())"]


def ensure_daemon(
    socket_path: str,
    exec_root: Path = DEFAULT_EXEC_ROOT,
    extra_args: Sequence[str] = (),
    wait: float = WAIT_SECONDS,
) -> int | None:
    """Start hulld on ``socket_path`` unless one answers there; its pid, or None.

    Waits until ``/_ping`` answers; Unavailable naming the log if it does not.
    """
    if _alive(socket_path):
        return None
    exec_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = exec_root / "hulld.log"
    cmd = [*hulld_command(), "-H", f"unix://{socket_path}", "--exec-root", str(exec_root)]
    cmd += list(extra_args)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    print(f"hull: started hulld (pid {proc.pid})", file=sys.stderr)
    from hull.client import Client

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if os.path.exists(socket_path):
            try:
                with Client(f"unix://{socket_path}", timeout=1.0) as c:
                    c.ping()
                return proc.pid
            except Exception:
                pass
        time.sleep(0.05)
    raise Unavailable(
        f"hulld did not answer on unix://{socket_path} within {wait:g} s; see {log_path}"
    )


__all__ = ["DEFAULT_EXEC_ROOT", "ensure_daemon", "hulld_command"]
