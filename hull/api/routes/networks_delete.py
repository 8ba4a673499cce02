"""``DELETE /networks/{id}``: 204; 409 while a container is attached or for pre-defined ones."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("DELETE", "/networks/{id}")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    await call(req, lambda eng: eng.network_remove(ref))
    return empty_response(204)
