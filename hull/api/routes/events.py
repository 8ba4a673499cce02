"""``GET /events``: the event stream, newline-delimited JSON, optionally bounded in time.

``since``/``until`` are Unix timestamps (``SECONDS[.NANOS]``; the CLI
converts durations and dates); ``filters`` as Docker's JSON map.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from ..events import EVENT_FILTERS, parse_timestamp
from ..filters import Filters
from ..http import Request, StreamResponse

ROUTES = [("GET", "/events")]


async def handle(req: Request) -> StreamResponse:
    since = parse_timestamp(req.arg("since"), "since")
    until = parse_timestamp(req.arg("until"), "until")
    filters = Filters.from_json(req.arg("filters"))
    filters.validate(EVENT_FILTERS)
    events = req.app.events.stream(since, until, filters)

    async def lines() -> AsyncIterator[bytes]:
        try:
            async for ev in events:
                yield (json.dumps(ev.to_json(), separators=(",", ":")) + "\n").encode()
        finally:
            await events.aclose()  # unsubscribe now, not when collected

    return StreamResponse(lines(), content_type="application/json")
