"""``POST /containers/{id}/wait?condition=``: 200 ``{StatusCode, Error}`` when the wait ends.

The headers go out at once (dockerd flushes them), so a client such as
``docker run`` can attach and start after it knows the wait is in place;
the body follows when the condition holds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from hull.errors import HullError, InvalidArgument

from ..http import Request, StreamResponse
from .containers_common import call, engine_of, in_own_thread

ROUTES = [("POST", "/containers/{id}/wait")]
CONDITIONS = ("not-running", "next-exit", "removed")


async def handle(req: Request) -> StreamResponse:
    ref = req.params["id"]
    condition = req.arg("condition") or "not-running"
    if condition not in CONDITIONS:
        raise InvalidArgument(f"invalid condition: {condition!r}")
    eng = await engine_of(req)
    cid = (await call(req, lambda e: e.find(ref))).id  # 404 before the headers

    async def body() -> AsyncIterator[bytes]:
        try:
            doc: dict[str, Any] = await in_own_thread(lambda: eng.wait(cid, condition))
        except HullError as exc:
            doc = {"StatusCode": -1, "Error": {"Message": exc.message}}
        if doc.get("Error") is None:
            doc = {"StatusCode": doc["StatusCode"], "Error": None}
        yield (json.dumps(doc, separators=(",", ":")) + "\n").encode()

    return StreamResponse(body(), 200, "application/json")
