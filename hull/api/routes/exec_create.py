"""``POST /containers/{id}/exec``: a new exec instance; 201 ``{Id}`` (409 not running)."""

from __future__ import annotations

from hull.errors import InvalidArgument

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("POST", "/containers/{id}/exec")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    body = await req.json()
    if not isinstance(body, dict):
        raise InvalidArgument("No exec command specified")
    eid = await call(req, lambda eng: eng.exec_create(ref, body))
    return json_response({"Id": eid}, 201)
