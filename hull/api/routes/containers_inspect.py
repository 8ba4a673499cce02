"""``GET /containers/{id}/json?size=``: ``docker inspect`` (ContainerJSON)."""

from __future__ import annotations

from hull.errors import NotFound

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("GET", "/containers/{id}/json")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    size = req.bool_arg("size")
    if not req.app.has_engine and not req.app.wants_engine_at_start():
        raise NotFound(f"No such container: {ref}")  # none exists: the monitor can wait
    return json_response(await call(req, lambda eng: eng.inspect(ref, size=size)))
