"""``GET /system/df``: disk usage (``docker system df``), in Docker's DiskUsage shape.

Images are real (``LayersSize``: the unpacked layers; per image SharedSize
and the number of containers using it). Containers, volumes and the build
cache are empty lists until those parts exist. ``type`` (1.42+, repeated)
limits the answer to image, container, volume and/or build-cache.
"""

from __future__ import annotations

from typing import Any

from hull.errors import InvalidArgument

from ..http import Request, Response, json_response
from .images_common import in_thread, users

ROUTES = [("GET", "/system/df")]
TYPES = ("container", "image", "volume", "build-cache")


async def handle(req: Request) -> Response:
    types = set(req.query.get("type", [])) or set(TYPES)
    for t in types - set(TYPES):
        raise InvalidArgument(f"unknown object type: {t}")
    doc: dict[str, Any] = {}
    if "image" in types:
        du = await in_thread(req, lambda svc: svc.disk_usage(lambda i: len(users(req.app, i))))
        doc["LayersSize"] = du["LayersSize"]
        doc["Images"] = du["Images"]
    if "container" in types:
        doc["Containers"] = []
    if "volume" in types:
        doc["Volumes"] = []
    if "build-cache" in types:
        doc["BuildCache"] = []
    return json_response(doc)
