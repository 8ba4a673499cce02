"""``GET /networks?filters=``: every network, the pre-defined ``host`` and ``none`` too."""

from __future__ import annotations

from ..filters import Filters
from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("GET", "/networks")]


async def handle(req: Request) -> Response:
    filters = Filters.from_json(req.arg("filters"))
    fields = {k: sorted(v) for k, v in filters.fields.items()}
    return json_response(await call(req, lambda eng: eng.network_list(fields)))
