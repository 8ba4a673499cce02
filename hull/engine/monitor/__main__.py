"""``python -m hull.engine.monitor --state-dir DIR``: run the container monitor.

Holds ``DIR/monitor.pid`` under ``flock`` (a second monitor refuses), listens
on ``DIR/monitor.sock`` (0600) and becomes a child subreaper. With
``--detach`` the first process forks, the child starts a new session and,
once it listens, tells the parent, which exits 0: the caller
(:func:`hull.engine.monitor.client.ensure_monitor`) knows the monitor is
ready and never has it as a child.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import socket
import sys
from pathlib import Path

from hull import linux


def _lock(state_dir: Path) -> int:
    fd = os.open(state_dir / "monitor.pid", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise SystemExit(
            f"monitor: another monitor (pid {other or '?'}) holds {state_dir}"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _listen(state_dir: Path) -> socket.socket:
    path = state_dir / "monitor.sock"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # stale: we hold the lock
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hull.engine.monitor")
    ap.add_argument("--state-dir", required=True, type=Path)
    ap.add_argument("--log-level", default="info", choices=["debug", "info", "warn", "error"])
    ap.add_argument("--force", action="store_true", help="exit on SIGTERM even if containers run")
    ap.add_argument("--detach", action="store_true", help="fork into a new session once ready")
    args = ap.parse_args(argv)
    state_dir: Path = args.state_dir.absolute()
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ready_w = -1
    if args.detach:
        ready_r, ready_w = os.pipe()
        if os.fork():
            os.close(ready_w)
            with os.fdopen(ready_r, "rb") as f:
                msg = f.read().decode(errors="replace")
            if msg.startswith("ok"):
                return 0
            sys.stderr.write(msg or "monitor: failed to start\n")
            return 1
        os.close(ready_r)
        os.setsid()
    try:
        lock_fd = _lock(state_dir)
        sock = _listen(state_dir)
        linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
    except (SystemExit, OSError) as exc:
        msg = str(exc.code if isinstance(exc, SystemExit) else f"monitor: {exc}")
        if ready_w >= 0:
            os.write(ready_w, msg.encode() + b"\n")
        sys.stderr.write(msg + "\n")
        return 1
    from hull.engine.monitor.server import Monitor, log

    monitor = Monitor(state_dir, sock, force=args.force)
    log(f"listening on {state_dir / 'monitor.sock'}")
    if ready_w >= 0:
        os.write(ready_w, b"ok\n")
        os.close(ready_w)
    from hull.engine.monitor.inproc import preload

    preload()  # after "ready": the daemon does not wait, the first start does not pay
    try:
        monitor.serve()
    finally:
        os.close(lock_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
