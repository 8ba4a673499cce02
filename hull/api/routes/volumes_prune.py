"""``POST /volumes/prune?filters=``: unused volumes; anonymous ones only unless ``all=true``.

As API 1.42+: the ``all`` filter includes named volumes; ``label`` narrows.
"""

from __future__ import annotations

from ..filters import Filters
from ..http import Request, Response, json_response
from .volumes_common import volumes_call

ROUTES = [("POST", "/volumes/prune")]


async def handle(req: Request) -> Response:
    filters = Filters.from_json(req.arg("filters"))
    filters.validate(("all", "label"))
    all_volumes = any(v.lower() in ("1", "true") for v in filters.get("all"))
    labels = sorted(filters.get("label")) or None
    out = await volumes_call(req, lambda vm: vm.prune(all_volumes=all_volumes, labels=labels))
    for name in out["VolumesDeleted"]:
        req.app.events.publish("volume", "destroy", name, {"driver": "local"})
    req.app.events.publish("volume", "prune", "", {"reclaimed": str(out["SpaceReclaimed"])})
    return json_response({"VolumesDeleted": out["VolumesDeleted"] or None,
                          "SpaceReclaimed": out["SpaceReclaimed"]})  # fmt: skip
