"""``GET/HEAD /_ping``: liveness, and the headers clients negotiate with."""

from __future__ import annotations

from ..http import Request, Response
from ..router import API_VERSION

ROUTES = [("GET", "/_ping"), ("HEAD", "/_ping")]

# "1": the classic builder (POST /build); BuildKit's session protocol is not served
BUILDER_VERSION = "1"


async def handle(req: Request) -> Response:
    """``OK`` with Api-Version, Builder-Version, Docker-Experimental and Ostype."""
    headers = {
        "Api-Version": API_VERSION,
        "Builder-Version": BUILDER_VERSION,
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Pragma": "no-cache",
        "Swarm": "inactive",
    }
    return Response(200, b"OK", "text/plain; charset=utf-8", headers)
