"""``POST /images/prune?filters=``: ``docker image prune [-a]``.

Filters as dockerd's: ``dangling`` (``false`` prunes every image no
container uses, not only the untagged ones), ``label`` / ``label!``
(``key`` or ``key=value``) and ``until`` (a Unix timestamp, an RFC 3339
date or a Go duration before now). Answers ``{"ImagesDeleted", "SpaceReclaimed"}``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hull.errors import InvalidArgument

from ..filters import Filters
from ..http import Request, Response, json_response
from .images_common import in_thread, in_use

if TYPE_CHECKING:
    from hull.images import ImageService

ROUTES = [("POST", "/images/prune")]
PRUNE_FILTERS = ("dangling", "label", "label!", "until")


def parse_until(value: str, now: float | None = None) -> float:
    """dockerd's ``timetypes.GetTimestamp`` as Unix seconds."""
    from hull.engine.units import parse_duration

    now = time.time() if now is None else now
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return now - parse_duration(value) / 1e9
    except InvalidArgument:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"invalid filter 'until={value}'") from None
    return (dt if dt.tzinfo else dt.astimezone()).timestamp()


def _labels_match(filters: Filters, labels: dict[str, str]) -> bool:
    if not filters.labels("label", labels):
        return False
    for spec in filters.get("label!"):
        key, sep, value = spec.partition("=")
        if key in labels and (not sep or labels[key] == value):
            return False
    return True


async def handle(req: Request) -> Response:
    filters = Filters.from_json(req.arg("filters"))
    filters.validate(PRUNE_FILTERS)
    prune_all = False
    dangling = filters.get("dangling")
    if dangling:
        if dangling & {"false", "0"}:
            prune_all = True
        elif not dangling & {"true", "1"}:
            raise InvalidArgument(f"invalid filter 'dangling={sorted(dangling)[0]}'")
    until = [parse_until(v) for v in filters.get("until")]
    used = in_use(req.app)

    def prune(svc: ImageService) -> dict[str, Any]:
        from hull.oci.digest import Digest

        def keep(image_id: str) -> bool:
            # ImageService.prune skips what is "in use": containers' images, and here
            # also the images the filters leave out
            if used(image_id) is not None:
                return True
            record = svc.get(Digest.parse(image_id))
            if until and (record.created or 0) >= min(until):
                return True
            return not _labels_match(filters, dict(record.labels))

        return svc.prune(all=prune_all, in_use=keep)

    return json_response(await in_thread(req, prune))
