"""``DELETE /containers/{id}?force=&v=``: ``docker rm``; 204 (409 while it runs)."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("DELETE", "/containers/{id}")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    force = req.bool_arg("force")
    volumes = req.bool_arg("v")
    await call(req, lambda eng: eng.remove(ref, force=force, volumes=volumes))
    return empty_response(204)
