"""``POST /exec/{id}/resize?h=&w=``: the exec's TTY window size; 200."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/exec/{id}/resize")]


async def handle(req: Request) -> Response:
    eid = req.params["id"]
    h = req.int_arg("h", 0) or 0
    w = req.int_arg("w", 0) or 0
    await call(req, lambda eng: eng.exec_resize(eid, h, w))
    return empty_response(200)
