"""``POST /auth``: ``docker login`` asks the daemon to check credentials with the registry.

Body: {username, password, serveraddress} (or {identitytoken}). 200
``{"Status": "Login Succeeded", "IdentityToken": ""}`` when the registry
accepts them; 401 with the registry's words when it does not.
"""

from __future__ import annotations

import asyncio

from ..http import Request, Response, json_response
from .images_create import registry_settings

ROUTES = [("POST", "/auth")]


async def handle(req: Request) -> Response:
    from hull.distribution import AuthConfig, validate_login
    from hull.errors import InvalidArgument

    body = await req.json()
    if not isinstance(body, dict):
        raise InvalidArgument("auth: expected a JSON object with username and password")
    auth = AuthConfig.from_json(body)
    settings = registry_settings(req)
    status = await asyncio.to_thread(validate_login, auth, settings)
    return json_response({"Status": status, "IdentityToken": ""})
