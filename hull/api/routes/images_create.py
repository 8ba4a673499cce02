"""``POST /images/create``: ``docker import`` from the request body (``fromSrc=-``).

``repo`` (which may carry a tag) and ``tag`` name the image; ``changes``
(repeated) are Dockerfile instructions applied to its config; ``message``
is its comment. The answer is JSON lines ending with ``{"status":"sha256:…"}``.

``fromImage`` (a pull) needs the registry client, which hulld does not
have yet: it is refused with an error saying so. A ``fromSrc`` URL is
refused too: hulld downloads nothing; send the tarball as the body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hull.errors import InvalidArgument, NotFound

from ..http import Request, StreamResponse, json_lines
from .images_common import body_stream, in_thread, lines_of

if TYPE_CHECKING:
    from hull.images import ImageService
    from hull.metadata import ImageRecord

ROUTES = [("POST", "/images/create")]


def import_reference(repo: str, tag: str) -> str | None:
    """dockerd's import naming: ``repo`` normalised, ``tag`` replacing its tag."""
    from hull.images import parse_normalized_named

    if not repo:
        return None
    ref = parse_normalized_named(repo)
    if ref.digest is not None:
        raise InvalidArgument("cannot import digest reference")
    if tag:
        ref = ref.with_tag(tag)
    return str(ref)


async def handle(req: Request) -> StreamResponse:
    from hull.images import apply_changes, import_rootfs
    from hull.oci.image_spec import Platform

    image = req.arg("fromImage")
    if image:
        raise NotFound(
            f"cannot pull {image}: hulld has no registry client yet, so images cannot be "
            "pulled; make them locally with 'hull load', 'hull import' or 'hull bootstrap'"
        )
    src = req.arg("fromSrc")
    if not src:
        raise InvalidArgument("fromImage or fromSrc is required")
    if src != "-":
        raise InvalidArgument(
            f"cannot import from {src}: hulld does not download; "
            "send the tarball as the request body with fromSrc=-"
        )
    reference = import_reference(req.arg("repo") or "", req.arg("tag") or "")
    changes = req.query.get("changes", [])
    apply_changes({}, changes)  # a bad instruction fails now, before the upload is read
    message = req.arg("message") or ""
    plat = req.arg("platform")
    platform = Platform.parse(plat) if plat else None
    body = body_stream(req)

    def run(svc: ImageService) -> ImageRecord:
        return import_rootfs(
            svc,
            body,
            reference=reference,
            changes=changes,
            message=message,
            platform=platform,
        )

    record = await in_thread(req, run)
    image_id = str(record.id)
    req.app.events.publish("image", "import", image_id, {"name": image_id})
    return StreamResponse(json_lines(lines_of([{"status": image_id}])))
