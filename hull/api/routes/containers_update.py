"""``POST /containers/{id}/update``: new resource limits or restart policy; 200 ``{Warnings}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hull.errors import InvalidArgument

from ..http import Request, Response, json_response
from .containers_common import call

if TYPE_CHECKING:
    from hull.engine.engine import Engine

ROUTES = [("POST", "/containers/{id}/update")]


async def handle(req: Request) -> Response:
    ref = req.params["id"]
    body = await req.json()
    if not isinstance(body, dict):
        raise InvalidArgument("the update body must be a JSON object (an UpdateConfig)")

    def run(eng: Engine) -> list[str]:
        from hull.engine.update import update

        return update(eng, ref, body)

    warnings = await call(req, run)
    return json_response({"Warnings": warnings})
