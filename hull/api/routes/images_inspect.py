"""``GET /images/{name}/json``: Docker's ImageInspect (``docker image inspect``)."""

from __future__ import annotations

from ..http import Request, Response, json_response
from .images_common import in_thread

ROUTES = [("GET", "/images/{name:.*}/json")]


async def handle(req: Request) -> Response:
    name = req.params["name"]
    return json_response(await in_thread(req, lambda svc: svc.inspect(name)))
