"""``POST /containers/{id}/start``: 204; 304 when it already runs."""

from __future__ import annotations

from hull.engine.containers import AlreadyInState

from ..errors import not_modified
from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/containers/{id}/start")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    try:
        await call(req, lambda eng: eng.start(ref))
    except AlreadyInState:
        return not_modified()
    return empty_response(204)
