"""``POST /images/{name}/tag?repo=&tag=``: one more name for an image; 201, no body."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hull.errors import InvalidArgument

from ..http import Request, Response, empty_response
from .images_common import in_thread

if TYPE_CHECKING:
    from hull.images import ImageService

ROUTES = [("POST", "/images/{name:.*}/tag")]


def target_of(repo: str, tag: str) -> str:
    """dockerd's ``TagImage``: ``repo`` normalised, then ``tag`` (if given) replaces its tag."""
    from hull.images import parse_normalized_named

    if not repo:
        raise InvalidArgument("repository name must have at least one component")
    if not tag:
        return repo
    ref = parse_normalized_named(repo)
    if ref.digest is not None:
        raise InvalidArgument("refusing to create a tag with a digest reference")
    return str(ref.without_tag().with_tag(tag))


async def handle(req: Request) -> Response:
    name = req.params["name"]
    target = target_of(req.arg("repo") or "", req.arg("tag") or "")

    def tag(svc: ImageService) -> tuple[str, str]:
        record = svc.resolve(name)
        ref = svc.tag(str(record.id), target)
        return str(record.id), ref.familiar()

    image_id, familiar = await in_thread(req, tag)
    req.app.events.publish("image", "tag", image_id, {"name": familiar})
    return empty_response(201)
