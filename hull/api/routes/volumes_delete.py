"""``DELETE /volumes/{name}?force=``: 204; 409 while a container uses it."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .volumes_common import volumes_call

ROUTES = [("DELETE", "/volumes/{name}")]


async def handle(req: Request) -> Response:
    name = req.params["name"]
    force = req.bool_arg("force")
    await volumes_call(req, lambda vm: vm.remove(name, force=force))
    req.app.events.publish("volume", "destroy", name, {"driver": "local"})
    return empty_response(204)
