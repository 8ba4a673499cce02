"""``POST /containers/create?name=``: ``docker create`` (201 ``{Id, Warnings}``).

404 "No such image: x" lets the docker CLI pull or say it is missing; a
name in use is dockerd's 409; a bad body or option is 400.
"""

from __future__ import annotations

import re
from typing import Any

from hull.errors import InvalidArgument, NotFound

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("POST", "/containers/create")]
_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


async def handle(req: Request) -> Response:
    name = req.arg("name") or None
    if name is not None and not _NAME.match(name):
        raise InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    body = await req.json()
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidArgument("config cannot be empty in order to create a container")
    image = body.get("Image")

    def create(eng: Any) -> tuple[str, list[str]]:
        try:
            return eng.create(body, name=name)  # type: ignore[no-any-return]
        except NotFound as exc:
            if isinstance(image, str) and image and "image" in exc.message.lower():
                raise NotFound(f"No such image: {_with_tag(image)}") from None
            raise

    cid, warnings = await call(req, create)
    return json_response({"Id": cid, "Warnings": warnings or []}, 201)


def _with_tag(ref: str) -> str:
    if "@" in ref or ":" in ref.rsplit("/", 1)[-1]:
        return ref
    return ref + ":latest"
