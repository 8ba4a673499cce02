"""``GET /images/json``: Docker's ImageSummary list (``docker images``).

``all`` adds intermediate images; ``filters`` takes dangling, reference,
label, before and since (``filter``, a reference glob, before API 1.41);
``shared-size`` (1.42+) fills SharedSize; ``digests`` changes nothing, as
in dockerd (RepoDigests are always there).
"""

from __future__ import annotations

from typing import Any

from ..filters import Filters
from ..http import Request, Response, json_response
from ..router import version_tuple
from .images_common import in_thread, users

ROUTES = [("GET", "/images/json")]


async def handle(req: Request) -> Response:
    filters = Filters.from_json(req.arg("filters"))
    legacy = req.arg("filter")
    if legacy and version_tuple(req.api_version) < (1, 41):
        filters.fields.setdefault("reference", set()).add(legacy)
    want_all = req.bool_arg("all")
    shared = req.bool_arg("shared-size") and version_tuple(req.api_version) >= (1, 42)
    fields = {k: sorted(v) for k, v in filters.fields.items()}

    def query(svc: Any) -> list[dict[str, Any]]:
        images: list[dict[str, Any]] = svc.list_images(fields, all=want_all)
        if shared:
            du = svc.disk_usage(lambda i: len(users(req.app, i)))
            by_id = {i["Id"]: i["SharedSize"] for i in du["Images"]}
            for img in images:
                img["SharedSize"] = by_id.get(img["Id"], -1)
        return images

    return json_response(await in_thread(req, query))
