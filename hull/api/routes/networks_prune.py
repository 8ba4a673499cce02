"""``POST /networks/prune?filters=``: user networks with no container attached."""

from __future__ import annotations

from ..filters import Filters
from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("POST", "/networks/prune")]


async def handle(req: Request) -> Response:
    filters = Filters.from_json(req.arg("filters"))
    fields = {k: sorted(v) for k, v in filters.fields.items()}
    out = await call(req, lambda eng: eng.network_prune(fields))
    return json_response({"NetworksDeleted": out["NetworksDeleted"] or None})
