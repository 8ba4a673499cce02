"""``POST /containers/{id}/stop?t=&signal=``: 204; 304 when it is not running."""

from __future__ import annotations

from hull.engine.containers import AlreadyInState

from ..errors import not_modified
from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/containers/{id}/stop")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    t = req.int_arg("t")
    sig = req.arg("signal") or None
    try:
        await call(req, lambda eng: eng.stop(ref, timeout=t, signal=sig))
    except AlreadyInState:
        return not_modified()
    return empty_response(204)
