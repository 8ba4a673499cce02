"""``GET /volumes/{name}``: one volume (404 "no such volume")."""

from __future__ import annotations

from ..http import Request, Response, json_response
from .volumes_common import volumes_call

ROUTES = [("GET", "/volumes/{name}")]


async def handle(req: Request) -> Response:
    name = req.params["name"]
    return json_response(await volumes_call(req, lambda vm: vm.inspect(name)))
