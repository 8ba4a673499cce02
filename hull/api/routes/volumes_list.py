"""``GET /volumes?filters=``: ``{Volumes, Warnings}`` (filters name, label, dangling, driver)."""

from __future__ import annotations

from hull.engine.volumes import to_json

from ..filters import Filters
from ..http import Request, Response, json_response
from .volumes_common import volumes_call

ROUTES = [("GET", "/volumes")]


async def handle(req: Request) -> Response:
    filters = Filters.from_json(req.arg("filters"))
    filters.validate(("name", "label", "dangling", "driver"))
    fields = {k: sorted(v) for k, v in filters.fields.items()}
    vols = await volumes_call(req, lambda vm: [to_json(v) for v in vm.ls(fields)])
    return json_response({"Volumes": vols, "Warnings": None})
