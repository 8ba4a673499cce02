"""``POST /networks/{id}/connect`` ``{Container, EndpointConfig}``: 200.

A running container gets a new interface at once; a stopped one on its next start.
"""

from __future__ import annotations

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/networks/{id}/connect")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    body = await req.json()
    await call(req, lambda eng: eng.network_connect(ref, body))
    return empty_response(200)
