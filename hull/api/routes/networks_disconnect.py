"""``POST /networks/{id}/disconnect`` ``{Container, Force}``: 200."""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/networks/{id}/disconnect")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    body = await req.json()
    await call(req, lambda eng: eng.network_disconnect(ref, body))
    return empty_response(200)
