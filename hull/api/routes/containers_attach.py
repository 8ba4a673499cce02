"""``POST /containers/{id}/attach?stream=&stdin=&stdout=&stderr=&logs=``: hijack the connection.

``101 UPGRADED`` with the multiplexed stream (the raw stream with a TTY),
then bytes both ways between the client and the monitor's attach stream.
Attaching to a container that is not running waits for its next start and
joins that start (see ``containers_common``), so nothing it prints is lost.
``logs`` without ``stream`` replays the log and ends.
"""

from __future__ import annotations

import asyncio
import socket

from hull.engine.containers import _running

from .. import stdcopy
from ..http import HijackResponse, Request
from .containers_common import (
    DEFAULT_DETACH_KEYS,
    attaching_monitor,
    engine_of,
    in_own_thread,
    is_tty,
    iter_in_thread,
    parse_detach_keys,
    pump,
)

ROUTES = [("POST", "/containers/{id}/attach")]


async def handle(req: Request) -> HijackResponse:
    ref = req.params["id"]
    stream = req.bool_arg("stream")
    stdin = req.bool_arg("stdin")
    stdout = req.bool_arg("stdout")
    stderr = req.bool_arg("stderr")
    logs = req.bool_arg("logs")
    keys = parse_detach_keys(req.arg("detachKeys") or DEFAULT_DETACH_KEYS)
    eng = await engine_of(req)
    mon = attaching_monitor(eng)

    def prepare() -> tuple[str, bool, socket.socket | None, object]:
        # under the engine's lock: the container cannot start between the check and expect()
        with eng._lock:
            rec = eng.find(ref)
            if not stream:
                return rec.id, is_tty(rec.config), None, None
            if _running(rec):
                sock = eng.attach(rec.id, stdin=stdin, stdout=stdout, stderr=stderr,
                                  stream_logs=logs)  # fmt: skip
                return rec.id, is_tty(rec.config), sock, None
            return rec.id, is_tty(rec.config), None, mon.expect(rec.id, stdin, stdout, stderr)

    cid, tty, sock, pending = await asyncio.to_thread(prepare)

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sock
        if not stream:
            if logs:
                it = await asyncio.to_thread(lambda: eng.logs(cid, stdout=stdout, stderr=stderr))
                async for name, data in iter_in_thread(it):
                    kind = stdcopy.STDERR if name == "stderr" else stdcopy.STDOUT
                    writer.write(data if tty else stdcopy.frame(kind, data))
                    await writer.drain()
            return
        if sock is None:
            from hull.engine.monitor.attaching import PendingAttach

            assert isinstance(pending, PendingAttach)
            try:
                if logs:  # what it printed before: the log, then the next start's output
                    it = await asyncio.to_thread(
                        lambda: eng.logs(cid, stdout=stdout, stderr=stderr)
                    )
                    async for name, data in iter_in_thread(it):
                        kind = stdcopy.STDERR if name == "stderr" else stdcopy.STDOUT
                        writer.write(data if tty else stdcopy.frame(kind, data))
                        await writer.drain()
                sock = await asyncio.wrap_future(pending.future)
            except asyncio.CancelledError:
                mon.cancel(cid, pending)
                raise
            except Exception:  # the start failed: the stream ends
                mon.cancel(cid, pending)
                return

        def exited() -> asyncio.Future[object]:
            # blocks on the engine's lock until a start in progress has set Running
            return asyncio.ensure_future(in_own_thread(lambda: eng.wait(cid, "not-running")))

        await pump(sock, reader, writer, stdin=stdin, tty=tty, detach_keys=keys, exited=exited)

    return HijackResponse(run, multiplexed=not tty)
