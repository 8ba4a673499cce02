"""``POST /containers/{id}/restart?t=``: stop (if running) then start; 204."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/containers/{id}/restart")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    t = req.int_arg("t")
    await call(req, lambda eng: eng.restart(ref, timeout=t))
    return empty_response(204)
