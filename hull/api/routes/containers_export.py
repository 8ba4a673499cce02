"""``GET /containers/{id}/export``: a tar of the container's root filesystem."""

from __future__ import annotations

from ..http import Request, StreamResponse
from .containers_common import call, engine_of
from .images_common import stream_from_thread

ROUTES = [("GET", "/containers/{id}/export")]


async def handle(req: Request) -> StreamResponse:
    ref = req.params["id"]
    eng = await engine_of(req)
    cid = (await call(req, lambda e: e.find(ref))).id
    chunks = await stream_from_thread(lambda out: eng.export(cid, out))
    return StreamResponse(chunks, 200, "application/x-tar")
