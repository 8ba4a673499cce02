"""``POST /containers/{id}/pause``: freeze its processes; 204 (409 not running/paused)."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/containers/{id}/pause")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    await call(req, lambda eng: eng.pause(ref))
    return empty_response(204)
