"""``POST /containers/{id}/rename?name=``: 204 (409 when the name is taken)."""

from __future__ import annotations

from hull.errors import InvalidArgument

from ..http import Request, Response, empty_response
from .containers_common import call

ROUTES = [("POST", "/containers/{id}/rename")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    name = req.arg("name") or ""
    if not name:
        raise InvalidArgument("Neither old nor new names may be empty")
    await call(req, lambda eng: eng.rename(ref, name))
    return empty_response(204)
