"""``GET /images/{name}/get`` and ``GET /images/get?names=``: ``docker save``.

A docker-archive tar (what ``docker load`` reads), streamed as it is
written: the worker thread that writes it waits while the client is slower.
"""

from __future__ import annotations

from typing import BinaryIO

from hull.errors import InvalidArgument

from ..http import Request, StreamResponse
from .images_common import stream_from_thread

ROUTES = [("GET", "/images/get"), ("GET", "/images/{name:.*}/get")]


async def handle(req: Request) -> StreamResponse:
    names = [req.params["name"]] if "name" in req.params else req.query.get("names", [])
    names = [n for n in names if n]
    if not names:
        raise InvalidArgument("no image names given: use /images/{name}/get or ?names=")
    app = req.app

    def write(out: BinaryIO) -> None:
        from hull.images import save

        save(app.images, names, out)

    chunks = await stream_from_thread(write)
    for name in names:
        app.events.publish("image", "save", name, {"name": name})
    return StreamResponse(chunks, content_type="application/x-tar")
