"""``POST /containers/{id}/kill?signal=``: 204; 409 when it is not running."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/containers/{id}/kill")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    sig = req.arg("signal") or "KILL"
    await call(req, lambda eng: eng.kill(ref, sig))
    return empty_response(204)
