"""``GET /containers/json?all=&limit=&size=&filters=``: ``docker ps``."""

from __future__ import annotations

from ..filters import Filters
from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("GET", "/containers/json")]


async def handle(req: Request) -> Response:
    all_ = req.bool_arg("all")
    limit = req.int_arg("limit", -1)
    size = req.bool_arg("size")
    filters = Filters.from_json(req.arg("filters"))
    fields = {k: sorted(v) for k, v in filters.fields.items()}
    if not req.app.has_engine and not req.app.wants_engine_at_start():
        return json_response([])  # no container was ever made: no need to start the monitor
    out = await call(
        req,
        lambda eng: eng.list(
            all=all_, filters=fields, limit=-1 if limit is None else limit, size=size
        ),
    )
    return json_response(out)
