"""``POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause=``: 201 ``{Id}``."""

from __future__ import annotations

from hull.errors import InvalidArgument

from ..http import Request, Response, json_response
from .containers_common import call

ROUTES = [("POST", "/commit")]


async def handle(req: Request) -> Response:
    ref = req.arg("container") or ""
    if not ref:
        raise InvalidArgument("No container specified")
    repo = req.arg("repo") or None
    tag = req.arg("tag") or None
    comment = req.arg("comment") or ""
    author = req.arg("author") or ""
    changes = [c for c in req.query.get("changes", []) if c]
    pause = req.bool_arg("pause", True)
    body = await req.json()
    if body is not None and not isinstance(body, dict):
        raise InvalidArgument("the commit body must be a container config object")
    image_id = await call(
        req,
        lambda eng: eng.commit(ref, repo=repo, tag=tag, comment=comment, author=author,
                               changes=changes, pause=pause, config=body or None),
    )  # fmt: skip
    return json_response({"Id": image_id}, 201)
