"""``GET /system/df``: disk usage (``docker system df``), in Docker's DiskUsage shape.

Images are real (``LayersSize``: the unpacked layers; per image SharedSize
and the number of containers using it). Containers are ``docker ps -a``
with sizes (the engine is not opened just for this when no container was
ever made); volumes carry ``UsageData`` {Size, RefCount}. The build cache
is an empty list until the builder keeps one. ``type`` (1.42+, repeated)
limits the answer to image, container, volume and/or build-cache.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hull.errors import InvalidArgument

from ..http import Request, Response, json_response
from .images_common import in_thread, users

if TYPE_CHECKING:
    from ..app import App

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
        doc["Containers"] = await asyncio.to_thread(_containers, req.app)
    if "volume" in types:
        doc["Volumes"] = await asyncio.to_thread(_volumes, req.app)
    if "build-cache" in types:
        doc["BuildCache"] = []
    return json_response(doc)


def _containers(app: App) -> list[dict[str, Any]]:
    if not app.has_engine and not app.wants_engine_at_start():
        return []
    out: list[dict[str, Any]] = app.engine.list(all=True, size=True)
    return out


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def _volumes(app: App) -> list[dict[str, Any]]:
    from hull import metadata as md
    from hull.engine.volumes import to_json

    vm = app.volumes
    out = []
    for v in vm.ls():
        doc = to_json(v)
        refs = len(md.volume_users(vm.db, v.name))
        doc["UsageData"] = {"Size": _du(Path(v.mountpoint)), "RefCount": refs}
        out.append(doc)
    return out
