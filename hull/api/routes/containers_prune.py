"""``POST /containers/prune?filters=``: remove stopped containers (``until``, ``label``)."""

from __future__ import annotations

from ..filters import Filters
from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("POST", "/containers/prune")]


async def handle(req: Request) -> Response:
    filters = Filters.from_json(req.arg("filters"))
    filters.validate(("until", "label", "label!"))
    fields = {k: sorted(v) for k, v in filters.fields.items()}
    out = await call(req, lambda eng: eng.prune(fields))
    req.app.events.publish("container", "prune", "", {"reclaimed": str(out["SpaceReclaimed"])})
    return json_response({"ContainersDeleted": out["ContainersDeleted"] or None,
                          "SpaceReclaimed": out["SpaceReclaimed"]})  # fmt: skip
