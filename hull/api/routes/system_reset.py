"""``POST /system/reset`` (hull's own, no Docker equivalent): ``hull system reset``.

Removes every container and network and everything of this daemon in the
host's network configuration (bridges, veths, namespace files, its nft
table); images and volumes stay. Answers ``{ContainersDeleted, NetworksDeleted}``.
"""

from __future__ import annotations

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("POST", "/system/reset")]


async def handle(req: Request) -> Response:
    return json_response(await call(req, lambda eng: eng.network_reset()))
