"""``POST /images/{name}/push?tag=``: ``docker push``, Docker's JSON-lines progress.

Credentials come in ``X-Registry-Auth``. Without ``tag`` (and no tag in
``name``) every tag of the repository is pushed, as dockerd does. Errors
before the first line are HTTP errors, later ones an ``errorDetail`` line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..http import Request, StreamResponse
from .images_create import progress_stream, registry_auth, registry_settings

ROUTES = [("POST", "/images/{name:.*}/push")]


def _targets(svc: Any, name: str, tag: str) -> list[str]:
    from hull.errors import NotFound
    from hull.images import parse_normalized_named, parse_reference

    ref = parse_normalized_named(name)
    if tag:
        return [str(ref.without_tag().with_tag(tag))]
    if ref.tag is not None:
        return [str(ref)]
    found = []
    for image in svc.list_images():
        for t in image.get("RepoTags") or []:
            if t == "<none>:<none>":
                continue
            other = parse_reference(t)
            if other.name == ref.name and other.tag is not None:
                found.append(str(other))
    if not found:
        raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
    return sorted(set(found))


async def handle(req: Request) -> StreamResponse:
    from hull.distribution.push import push

    name = req.params["name"]
    tag = req.arg("tag") or ""
    auth = registry_auth(req)
    settings = registry_settings(req)
    app = req.app

    def run(emit: Callable[[dict[str, Any]], None]) -> None:
        for target in _targets(app.images, name, tag):
            result = push(app.images, target, auth=auth, settings=settings, progress=emit)
            shown = result.reference.familiar()
            app.events.publish("image", "push", shown, {"name": shown})

    return await progress_stream(run)
