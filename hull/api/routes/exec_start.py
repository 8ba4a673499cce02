"""``POST /exec/{id}/start`` (body ``{Detach, Tty}``): run an exec instance.

Detached: 200 and no body. Otherwise the connection is hijacked as for
attach: the exec's output (multiplexed unless it has a TTY) to the client,
the client's bytes to its stdin, until its output ends.
"""

from __future__ import annotations

import asyncio

from hull.errors import Conflict, HullError, InvalidArgument

from ..http import HijackResponse, Request, Response, empty_response
from ..stdcopy import STDERR, frame
from .containers_common import DEFAULT_DETACH_KEYS, call, parse_detach_keys, pump

ROUTES = [("POST", "/exec/{id}/start")]


async def handle(req: Request) -> Response | HijackResponse:
    eid = req.params["id"]
    body = await req.json() or {}
    if not isinstance(body, dict):
        raise InvalidArgument("exec start: the body must be a JSON object")
    detach = bool(body.get("Detach"))
    tty_v = body.get("Tty")
    tty = None if tty_v is None else bool(tty_v)
    info = await call(req, lambda eng: eng.exec_inspect(eid))
    if info["Running"]:
        raise Conflict(f"Exec command {eid} is already running")
    use_tty = bool(info["ProcessConfig"]["tty"]) if tty is None else tty
    stdin = bool(info["OpenStdin"])
    keys = parse_detach_keys(info.get("DetachKeys") or DEFAULT_DETACH_KEYS)
    if detach:
        await call(req, lambda eng: eng.exec_start(eid, detach=True, tty=tty))
        return empty_response(200)

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Started only once the 101 is out, as dockerd does: output that came
        # right behind the headers would land in the client's HTTP buffer,
        # which docker-py throws away when it takes the raw socket.
        try:
            sock = await call(req, lambda eng: eng.exec_start(eid, detach=False, tty=tty))
        except HullError as exc:
            msg = f"{exc.message}\r\n".encode()
            writer.write(msg if use_tty else frame(STDERR, msg))
            await writer.drain()
            return
        assert sock is not None
        await pump(sock, reader, writer, stdin=stdin, tty=use_tty, detach_keys=keys)

    return HijackResponse(run, multiplexed=not use_tty)
