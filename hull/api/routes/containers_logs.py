"""``GET /containers/{id}/logs?follow=&stdout=&stderr=&since=&until=&timestamps=&tail=``.

Multiplexed stream framing (``hull.api.stdcopy``) unless the container has
a TTY, then the raw bytes. ``since``/``until`` are Unix times (fractions
allowed); ``tail`` a count or ``all``. With ``follow`` the stream ends when
the container stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from hull.errors import InvalidArgument

from .. import stdcopy
from ..http import Request, StreamResponse
from .containers_common import call, engine_of, is_tty, iter_in_thread

ROUTES = [("GET", "/containers/{id}/logs")]


def _time(req: Request, name: str) -> float | None:
    v = req.arg(name)
    if v is None or v in ("", "0"):
        return None
    try:
        return float(v)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name}: {v!r}") from None


async def handle(req: Request) -> StreamResponse:
    ref = req.params["id"]
    stdout = req.bool_arg("stdout")
    stderr = req.bool_arg("stderr")
    if not (stdout or stderr):
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    follow = req.bool_arg("follow")
    timestamps = req.bool_arg("timestamps")
    since, until = _time(req, "since"), _time(req, "until")
    tail_arg = req.arg("tail") or "all"
    tail: int | str | None = None
    if tail_arg != "all":
        try:
            tail = int(tail_arg)
        except ValueError:
            raise InvalidArgument(f"invalid value for tail: {tail_arg!r}") from None
        if tail < 0:
            tail = None
    eng = await engine_of(req)
    rec = await call(req, lambda e: e.find(ref))
    tty = is_tty(rec.config)
    it = await call(
        req,
        lambda e: e.logs(rec.id, stdout=stdout, stderr=stderr, since=since, until=until,
                         tail=tail, timestamps=timestamps, follow=follow),
    )  # fmt: skip
    del eng

    async def chunks() -> AsyncIterator[bytes]:
        async for stream, data in iter_in_thread(it):
            if tty:
                yield data
            else:
                yield stdcopy.frame(stdcopy.STDERR if stream == "stderr" else stdcopy.STDOUT,
                                    data)  # fmt: skip

    ctype = "application/vnd.docker.raw-stream" if tty else (
        "application/vnd.docker.multiplexed-stream")  # fmt: skip
    return StreamResponse(chunks(), 200, ctype)
