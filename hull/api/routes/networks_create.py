"""``POST /networks/create``: Docker's body (Name, Driver, Internal, IPAM.Config, Labels, Options).

201 ``{Id, Warning}``; a taken name is 409, an overlapping subnet 409
("Pool overlaps with other one on this address space"), a driver other than
``bridge`` 404 as dockerd's missing plugin.
"""

from __future__ import annotations

from hull.errors import InvalidArgument

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("POST", "/networks/create")]


async def handle(req: Request) -> Response:
    body = await req.json()
    if not isinstance(body, dict):
        raise InvalidArgument("the network create body must be a JSON object")
    return json_response(await call(req, lambda eng: eng.network_create(body)), 201)
