"""``GET /containers/{id}/top?ps_args=``: ``{Titles, Processes}`` of the container."""

from __future__ import annotations

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("GET", "/containers/{id}/top")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    ps_args = req.arg("ps_args") or ""
    return json_response(await call(req, lambda eng: eng.top(ref, ps_args)))
