"""``GET /containers/{id}/stats?stream=&one-shot=``: cgroup figures in Docker's shape.

``stream`` (the default) sends a sample a second until the container stops;
otherwise one sample.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..http import Request, Response, StreamResponse, json_lines, json_response
from .containers_common import call, iter_in_thread

ROUTES = [("GET", "/containers/{id}/stats")]


async def handle(req: Request) -> Response | StreamResponse:
    ref = req.params["id"]
    stream = req.bool_arg("stream", True)
    if not stream or req.bool_arg("one-shot"):
        return json_response(await call(req, lambda eng: eng.stats(ref)))
    it = await call(req, lambda eng: eng.stats_stream(ref))

    async def samples() -> AsyncIterator[Any]:
        async for s in iter_in_thread(it, maxsize=2):
            yield s

    return StreamResponse(json_lines(samples()), 200, "application/json")
