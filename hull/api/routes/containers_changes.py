"""``GET /containers/{id}/changes``: ``docker diff`` as ``[{Path, Kind}]``."""

from __future__ import annotations

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("GET", "/containers/{id}/changes")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    return json_response(await call(req, lambda eng: eng.changes(ref)) or None)
