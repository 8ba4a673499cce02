"""``POST /images/create``: ``docker pull`` (``fromImage``) or ``docker import`` (``fromSrc=-``).

Pull: ``fromImage`` with ``tag`` (a tag, or a digest) and ``platform``;
credentials in ``X-Registry-Auth`` (base64url JSON of {username, password,
serveraddress} or {identitytoken}). The answer streams Docker's JSON-lines
progress as the pull goes. As dockerd, an error before the first progress
line (unknown name, denied, no such manifest) is an HTTP error; after it,
an ``{"errorDetail": {"message"}, "error"}`` line ends the 200 stream. A
client that goes away stops the pull (the partial downloads stay, and the
next pull resumes them).

Import: ``repo`` (which may carry a tag) and ``tag`` name the image;
``changes`` (repeated) are Dockerfile instructions applied to its config;
``message`` is its comment. The answer is JSON lines ending with
``{"status":"sha256:…"}``. A ``fromSrc`` URL is refused: hulld downloads
nothing; send the tarball as the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from hull.errors import HullError, InvalidArgument

from ..http import Request, StreamResponse, json_lines
from .images_common import body_stream, in_thread, lines_of

if TYPE_CHECKING:
    from hull.distribution import AuthConfig, RegistrySettings
    from hull.images import ImageService
    from hull.metadata import ImageRecord

ROUTES = [("POST", "/images/create")]
QUEUE_EVENTS = 256


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


def pull_reference(image: str, tag: str) -> str:
    """dockerd's ``fromImage`` + ``tag``: the tag (or a ``sha256:…`` digest) joins the name."""
    from hull.images import parse_normalized_named

    ref = parse_normalized_named(image)
    if tag:
        if ":" in tag and tag.split(":", 1)[0] in ("sha256", "sha384", "sha512"):
            return f"{ref.trimmed()}@{tag}"
        ref = ref.without_tag().with_tag(tag) if ref.digest is None else ref
    return str(ref)


def registry_auth(req: Request) -> AuthConfig | None:
    """The ``X-Registry-Auth`` header, decoded (None if absent)."""
    from hull.distribution import AuthConfig

    return AuthConfig.from_header(req.headers.get("X-Registry-Auth"))


def registry_settings(req: Request) -> RegistrySettings:
    """How this daemon reaches registries (``<data-root>/registries.json``, ``HULL_*``)."""
    from hull.distribution import RegistrySettings

    return RegistrySettings.from_env(req.app.config.data_root)


class _ClientGone(Exception):
    """The client closed the connection: the worker stops."""


_END = object()


async def progress_stream(
    run: Callable[[Callable[[dict[str, Any]], None]], None],
) -> StreamResponse:
    """Run ``run(emit)`` in a thread; what it emits as JSON lines (see the module docstring)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_EVENTS)
    gone = threading.Event()

    def emit(item: Any) -> None:
        if gone.is_set():
            raise _ClientGone("the client closed the connection")
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def work() -> None:
        try:
            run(emit)
            emit(_END)
        except _ClientGone:
            pass
        except BaseException as exc:  # handed to the loop
            with contextlib.suppress(_ClientGone, RuntimeError):
                emit(exc)

    task = loop.run_in_executor(None, work)
    first = await queue.get()
    if isinstance(first, BaseException):
        await task
        raise first

    async def gen() -> AsyncIterator[bytes]:
        item = first
        try:
            while item is not _END:
                if isinstance(item, BaseException):
                    text = item.message if isinstance(item, HullError) else str(item)
                    item = {"errorDetail": {"message": text}, "error": text}
                    yield _line(item)
                    break
                yield _line(item)
                item = await queue.get()
        finally:
            gone.set()
            while not queue.empty():
                queue.get_nowait()

    return StreamResponse(gen(), content_type="application/json")


def _line(item: dict[str, Any]) -> bytes:
    return (json.dumps(item, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


async def _pull(req: Request, image: str) -> StreamResponse:
    from hull.distribution.pull import pull
    from hull.oci.image_spec import Platform

    name = pull_reference(image, req.arg("tag") or "")
    plat = req.arg("platform")
    platform = Platform.parse(plat) if plat else None
    auth = registry_auth(req)
    settings = registry_settings(req)
    app = req.app

    def run(emit: Callable[[dict[str, Any]], None]) -> None:
        result = pull(app.images, name, platform=platform, auth=auth, settings=settings,
                      progress=emit)  # fmt: skip
        shown = result.reference.familiar()
        app.events.publish("image", "pull", shown, {"name": shown})

    return await progress_stream(run)


async def handle(req: Request) -> StreamResponse:
    from hull.images import apply_changes, import_rootfs
    from hull.oci.image_spec import Platform

    image = req.arg("fromImage")
    if image:
        return await _pull(req, image)
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
