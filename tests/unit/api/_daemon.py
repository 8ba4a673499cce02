"""An in-process hulld on its own event loop thread, on a temp unix socket."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hull.api import Config, Daemon, Limits


@contextmanager
def running_daemon(tmp: Path, **overrides: object) -> Iterator[Daemon]:
    cfg = Config(
        data_root=tmp / "data",
        exec_root=tmp / "run",
        hosts=[f"unix://{tmp}/hull.sock"],
        runtimes={"hull-runtime": "/bin/false"},
        subreaper=False,
        shutdown_timeout=2.0,
        limits=Limits(max_header=8192, max_body=1024 * 1024),
    )
    for k, v in overrides.items():
        setattr(cfg, k, v)
    daemon = Daemon(cfg)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    error: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(daemon.start())
        except BaseException as exc:
            error.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait(10)
    if error:
        raise error[0]
    daemon.loop = loop  # type: ignore[attr-defined]
    try:
        yield daemon
    finally:
        asyncio.run_coroutine_threadsafe(daemon.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        t.join(10)
        loop.close()
        # a route that needed the engine started its monitor, which outlives
        # hulld by design: a test's daemon takes it down with it
        from tests.unit.api.test_containers_routes import stop_monitor

        stop_monitor(tmp / "run")
