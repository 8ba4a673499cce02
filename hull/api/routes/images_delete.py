"""``DELETE /images/{name}?force=&noprune=``: ``docker rmi``.

200 with ``[{"Untagged": …}, {"Deleted": …}]``; the conflicts (409) and
"No such image" (404) carry dockerd's messages (``ImageService.remove``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hull.errors import InvalidArgument

from ..http import Request, Response, json_response
from .images_common import in_thread, in_use

if TYPE_CHECKING:
    from hull.images import ImageService

ROUTES = [("DELETE", "/images/{name:.*}")]


async def handle(req: Request) -> Response:
    name = req.params["name"]
    if not name.strip():
        raise InvalidArgument("image name cannot be blank")
    force = req.bool_arg("force")
    prune = not req.bool_arg("noprune")
    check = in_use(req.app)

    def remove(svc: ImageService) -> tuple[str, list[dict[str, str]]]:
        image_id = str(svc.resolve(name).id)
        return image_id, svc.remove(name, force=force, in_use=check, prune=prune)

    image_id, out = await in_thread(req, remove)
    for item in out:
        if "Untagged" in item:
            req.app.events.publish("image", "untag", image_id, {"name": item["Untagged"]})
        elif item.get("Deleted") == image_id:
            req.app.events.publish("image", "delete", image_id, {"name": image_id})
    return json_response(out)
