"""``GET /exec/{id}/json``: Docker's ExecInspect."""

from __future__ import annotations

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("GET", "/exec/{id}/json")]


async def handle(req: Request) -> Response:
    eid = req.params["id"]
    return json_response(await call(req, lambda eng: eng.exec_inspect(eid)))
