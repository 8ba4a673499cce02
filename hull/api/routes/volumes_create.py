"""``POST /volumes/create`` (body ``{Name, Driver, DriverOpts, Labels}``): 201 and the volume."""

from __future__ import annotations

from typing import Any

from hull.engine.volumes import to_json
from hull.errors import InvalidArgument

from ..http import Request, Response, json_response
from .volumes_common import volumes_call

ROUTES = [("POST", "/volumes/create")]


def _str_map(body: dict[str, Any], key: str) -> dict[str, str]:
    v = body.get(key) or {}
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise InvalidArgument(
            f"json: cannot unmarshal {key} into Go value of type map[string]string"
        )
    return {str(k): str(x) for k, x in v.items()}


async def handle(req: Request) -> Response:
    body = await req.json() or {}
    if not isinstance(body, dict):
        raise InvalidArgument("the volume create body must be a JSON object")
    name = body.get("Name") or None
    if name is not None and not isinstance(name, str):
        raise InvalidArgument("json: cannot unmarshal Name into Go value of type string")
    driver = body.get("Driver") or "local"
    labels, opts = _str_map(body, "Labels"), _str_map(body, "DriverOpts")
    doc = await volumes_call(
        req, lambda vm: to_json(vm.create(name, driver=driver, labels=labels, options=opts))
    )
    req.app.events.publish("volume", "create", doc["Name"], {"driver": doc["Driver"]})
    return json_response(doc, 201)
