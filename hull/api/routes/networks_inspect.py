"""``GET /networks/{id}``: one network by name, id or id prefix, with its containers."""

from __future__ import annotations

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("GET", "/networks/{id}")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    return json_response(await call(req, lambda eng: eng.network_inspect(ref)))
