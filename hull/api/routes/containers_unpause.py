"""``POST /containers/{id}/unpause``: thaw its processes; 204 (409 not paused)."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/containers/{id}/unpause")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    await call(req, lambda eng: eng.unpause(ref))
    return empty_response(204)
