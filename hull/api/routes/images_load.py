"""``POST /images/load?quiet=``: ``docker load``, the tar in the request body.

The body is read by a worker as it arrives (the loader spools it to a temp
file under ``<data-root>/tmp`` to seek in it). As dockerd, the answer is
always 200 with JSON lines: ``{"stream":"Loaded image: busybox:latest\\n"}``
per name (``Loaded image ID: sha256:…`` for an untagged image), or an
``errorDetail`` line when the archive is refused.
"""

from __future__ import annotations

from typing import Any

from hull.errors import HullError

from ..http import Request, StreamResponse, json_lines
from .images_common import body_stream, error_message, in_thread, lines_of

ROUTES = [("POST", "/images/load")]


async def handle(req: Request) -> StreamResponse:
    req.bool_arg("quiet", True)  # validated; the answer has no progress bars either way
    body = body_stream(req)
    out: list[dict[str, Any]] = []
    try:
        from hull.images import load

        loaded = await in_thread(req, lambda svc: load(svc, body))
    except HullError as exc:
        out.append(error_message(exc))
    else:
        for name in loaded:
            what = "Loaded image ID" if name.startswith("sha256:") else "Loaded image"
            out.append({"stream": f"{what}: {name}\n"})
            req.app.events.publish("image", "load", name, {"name": name})
    return StreamResponse(json_lines(lines_of(out)), content_type="application/json")
