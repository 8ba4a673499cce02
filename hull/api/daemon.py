"""``hulld``: the daemon that serves the Docker Engine API.

    hulld [--data-root DIR] [--exec-root DIR] [-H unix:///PATH|tcp://HOST:PORT]...
          [--log-level debug|info|warn|error] [--default-runtime NAME]
          [--add-runtime NAME=PATH]... [--pidfile PATH] [--shutdown-timeout SECONDS]

Flags are dockerd's where they overlap. ``Daemon`` is the in-process form
(tests start and stop it on their own loop); ``main`` adds what only a
process has: the pid file lock, signals and the child subreaper.

Lifecycle: ``start()`` takes the pid file (a live hulld holding it is an
error), opens the listeners (sockets 0660), and returns; ``stop()`` stops
accepting, lets requests in flight finish within ``shutdown_timeout``,
removes the sockets and the pid file. The container engine is opened at
start when a previous daemon left containers or a monitor behind (it then
reconciles them with the monitor and applies restart policies), else on the
first request that needs it; ``stop()`` closes its exit watcher. The
monitor and the containers it runs outlive hulld by design.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from pathlib import Path

from hull import __version__
from hull.errors import Conflict, HullError, InvalidArgument

from .app import App
from .config import DEFAULT_EXEC_ROOT, DEFAULT_HOST, LOG_LEVELS, Config, builtin_runtimes
from .router import Router
from .routes import register
from .server import Server

log = logging.getLogger("hull.api")


class PidFile:
    """``<exec-root>/hulld.pid``, held with ``flock`` for the daemon's lifetime.

    The lock, not the pid written in the file, decides whether a daemon is
    live: a pid left by a crash may have been reused by any process.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Lock and write our pid; Conflict naming the live daemon's pid if held."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise Conflict(
                f"hulld is already running with pid {other} (pid file {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


class Daemon:
    """The API server with its configuration, pid file and event bus."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = App(config=config, router=register(Router()))
        self.server = Server(self.app)
        self.pidfile = PidFile(config.pidfile_path)

    @property
    def addresses(self) -> list[str]:
        """Where it listens (``tcp://127.0.0.1:0`` resolved to the real port)."""
        return list(self.server.addresses)

    async def start(self) -> None:
        """Take the pid file and open every listener."""
        self.config.validate()
        self.config.data_root.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.config.exec_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.pidfile.acquire()
        try:
            if self.config.subreaper:
                # containers are our children; orphans of theirs must come back to us
                from hull import linux

                linux.prctl(linux.PR_SET_CHILD_SUBREAPER, 1)
            if self.app.wants_engine_at_start():
                # recover(): reconcile records with the monitor, restart policies
                await asyncio.to_thread(lambda: self.app.engine)
            for host in self.config.hosts:
                await self.server.listen(host)
        except BaseException:
            await self.server.close(0)
            await asyncio.to_thread(self.app.close)
            self.pidfile.release()
            raise
        log.info("hulld %s started (pid %d)", __version__, os.getpid())

    async def stop(self) -> None:
        """Stop accepting, finish requests in flight (bounded), clean up."""
        log.info("hulld shutting down")
        await self.server.close(self.config.shutdown_timeout)
        # the engine's exit watcher and the image store's database, if opened
        await asyncio.to_thread(self.app.close)
        self.pidfile.release()

    async def serve(self, stop: asyncio.Event) -> None:
        """``start``, wait for ``stop``, then ``stop()``."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()


def parse_args(argv: list[str] | None = None) -> Config:
    """``hulld``'s flags → Config (InvalidArgument on bad values)."""
    p = argparse.ArgumentParser(prog="hulld", description="The hull daemon (Docker Engine API)")
    p.add_argument(
        "--data-root",
        default=os.environ.get("HULL_DATA_ROOT") or "/var/lib/hull",
        help="root of persistent state (default /var/lib/hull, env HULL_DATA_ROOT)",
    )
    p.add_argument("--exec-root", default=str(DEFAULT_EXEC_ROOT), help="root of runtime state")
    p.add_argument(
        "-H", "--host", action="append", dest="hosts", help=f"listen on (default {DEFAULT_HOST})"
    )
    p.add_argument("--log-level", "-l", default="info", choices=LOG_LEVELS)
    p.add_argument("-D", "--debug", action="store_true", help="debug logging")
    p.add_argument("--default-runtime", default="hull-runtime")
    p.add_argument(
        "--add-runtime", action="append", default=[], metavar="NAME=PATH", help="an OCI runtime"
    )
    p.add_argument("--pidfile", "-p", default=None, help="default <exec-root>/hulld.pid")
    p.add_argument("--shutdown-timeout", type=float, default=10.0)
    p.add_argument("-v", "--version", action="version", version=f"hulld version {__version__}")
    ns = p.parse_args(argv)
    runtimes = builtin_runtimes()
    for spec in ns.add_runtime:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise InvalidArgument(f"invalid --add-runtime {spec!r}: expected NAME=PATH")
        runtimes[name] = path
    return Config(
        data_root=Path(ns.data_root),
        exec_root=Path(ns.exec_root),
        hosts=ns.hosts or [DEFAULT_HOST],
        log_level="debug" if ns.debug else ns.log_level,
        default_runtime=ns.default_runtime,
        runtimes=runtimes,
        pidfile=Path(ns.pidfile) if ns.pidfile else None,
        shutdown_timeout=ns.shutdown_timeout,
    )


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level={"warn": logging.WARNING}.get(level, getattr(logging, level.upper())),
        format='time="%(asctime)s" level=%(levelname)s msg="%(message)s"',
        stream=sys.stderr,
    )


async def _run(config: Config) -> None:
    daemon = Daemon(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)  # dockerd reloads; nothing to reload
    await daemon.serve(stop)


def main(argv: list[str] | None = None) -> int:
    """Run the daemon until SIGTERM/SIGINT; 0 on a clean shutdown, 1 if it cannot start."""
    try:
        config = parse_args(argv)
        config.validate()
    except HullError as exc:
        print(f"hulld: {exc}", file=sys.stderr)
        return 1
    setup_logging(config.log_level)
    try:
        asyncio.run(_run(config))
    except HullError as exc:
        print(f"hulld: failed to start daemon: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"hulld: failed to start daemon: {exc}", file=sys.stderr)
        return 1
    return 0


__all__ = ["Config", "Daemon", "PidFile", "main", "parse_args"]

if __name__ == "__main__":
    sys.exit(main())
