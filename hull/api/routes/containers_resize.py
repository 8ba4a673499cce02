"""``POST /containers/{id}/resize?h=&w=``: the TTY's window size; 200."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/containers/{id}/resize")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    h = req.int_arg("h", 0) or 0
    w = req.int_arg("w", 0) or 0
    await call(req, lambda eng: eng.resize(ref, h, w))
    return empty_response(200)
