"""``GET /images/search``: ``docker search`` through the daemon.

``term`` (``[host[:port]/]text``), ``limit`` (1..100, default 25) and
``filters`` (``is-official``, ``is-automated``: true/false; ``stars``: a
minimum) as dockerd takes them; credentials in ``X-Registry-Auth`` as for a
pull. The answer is dockerd's list of ``{"name", "description",
"star_count", "is_official", "is_automated"}``.
"""

from __future__ import annotations

import asyncio

from hull.errors import InvalidArgument

from ..filters import Filters
from ..http import Request, Response, json_response
from .images_create import registry_auth, registry_settings

ROUTES = [("GET", "/images/search")]


async def handle(req: Request) -> Response:
    from hull.distribution.search import DEFAULT_LIMIT, filter_results, search

    term = req.arg("term") or ""
    if not term:
        raise InvalidArgument("a search term is required")
    limit_text = req.arg("limit") or ""
    limit = 0
    if limit_text:
        try:
            limit = int(limit_text)
        except ValueError:
            raise InvalidArgument(f"invalid limit specified: {limit_text!r}") from None
        if limit < 0:
            raise InvalidArgument(f"invalid limit specified: {limit}")
    filters = Filters.from_json(req.arg("filters"))
    fields = {k: sorted(v) for k, v in filters.fields.items()}
    filter_results([], fields)  # refuse a bad filter before asking the registry
    results = await asyncio.to_thread(
        search,
        term,
        limit=limit or DEFAULT_LIMIT,
        auth=registry_auth(req),
        settings=registry_settings(req),
    )
    return json_response([r.to_json() for r in filter_results(results, fields)])
