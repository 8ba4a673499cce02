"""Blob routes: GET/HEAD/DELETE of a blob, and the upload protocol.

``GET`` serves the content store's file with ``sendfile(2)``, honouring one
``Range: bytes=a-b`` (206 with ``Content-Range``; 416 when unsatisfiable).
Uploads follow the distribution spec: ``POST`` starts one (202 with
``Location``, ``Docker-Upload-UUID`` and ``Range: 0-0``), mounts a blob of
another repository (201), or takes the whole blob at once with
``?digest=``; ``PATCH`` appends a chunk that must start at the current
offset (else 416 with the current ``Range``); ``PUT ?digest=`` appends an
optional last chunk, verifies and commits; ``GET`` tells the offset (204
with ``Range``) so that a client can resume; ``DELETE`` cancels.
"""

from __future__ import annotations

import asyncio
import re

from hull.errors import NotFound
from hull.registry.app import Call, Registry
from hull.registry.errors import RegistryError
from hull.registry.names import parse_digest, validate_name
from hull.registry.server import Reply
from hull.registry.uploads import Upload

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)(?:/(\d+|\*))?")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) of a single ``Range`` header; None for the whole blob; 416 if bad."""
    if not header:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None:
        if header.strip().startswith("bytes=") and "," not in header:
            raise _unsatisfiable(size)
        return None  # multiple ranges or another unit: serve the whole blob
    first_s, last_s = m.groups()
    if not first_s and not last_s:
        raise _unsatisfiable(size)
    if not first_s:  # suffix: the last N bytes
        n = int(last_s)
        if n == 0:
            raise _unsatisfiable(size)
        return max(size - n, 0), size - 1
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if first >= size or last < first:
        raise _unsatisfiable(size)
    return first, min(last, size - 1)


def _unsatisfiable(size: int) -> RegistryError:
    return RegistryError(
        "RANGE_INVALID",
        f"the blob has {size} bytes",
        headers={"Content-Range": f"bytes */{size}"},
    )


async def blob(reg: Registry, call: Call) -> Reply:
    """``GET``/``HEAD``/``DELETE /v2/<name>/blobs/<digest>``."""
    digest = parse_digest(call.params["digest"])
    if call.req.method == "DELETE":
        reg.storage.unlink_blob(call.name, digest)
        return Reply(202, {"Docker-Content-Digest": str(digest)})
    path = reg.storage.blob_path(call.name, digest)
    if call.req.method == "HEAD":
        # a HEAD often precedes a manifest that relies on the blob: keep gc away
        await asyncio.to_thread(reg.storage.touch_blob, digest)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed by the server after sending)
    except FileNotFoundError:
        raise RegistryError("BLOB_UNKNOWN", str(digest)) from None
    size = f.seek(0, 2)
    headers = {
        "Content-Type": "application/octet-stream",
        "Docker-Content-Digest": str(digest),
        "ETag": f'"{digest}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": "max-age=31536000",
    }
    try:
        rng = _byte_range(call.req.headers.get("Range"), size)
    except BaseException:
        f.close()
        raise
    if rng is None:
        return Reply(200, headers, file=f, offset=0, length=size)
    first, last = rng
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return Reply(206, headers, file=f, offset=first, length=last - first + 1)


def _upload_headers(up: Upload, offset: int) -> dict[str, str]:
    return {
        "Location": up.location,
        "Range": f"0-{max(offset - 1, 0)}",
        "Docker-Upload-UUID": up.uuid,
    }


def _created(call: Call, digest: str) -> Reply:
    return Reply(
        201,
        {"Location": f"/v2/{call.name}/blobs/{digest}", "Docker-Content-Digest": digest},
    )


async def start_upload(reg: Registry, call: Call) -> Reply:
    """``POST /v2/<name>/blobs/uploads/``: start, mount (``?mount=&from=``) or monolithic."""
    req = call.req
    mount, source = req.arg("mount"), req.arg("from")
    if mount and source:
        try:
            digest = parse_digest(mount)
            validate_name(source)
        except RegistryError:
            pass
        else:
            if (
                reg.may(call, source, "pull")
                and reg.storage.has_blob(source, digest)
                and await asyncio.to_thread(reg.storage.touch_blob, digest)
            ):
                reg.storage.link_blob(call.name, digest)
                return _created(call, str(digest))
    whole = req.arg("digest")
    if whole is not None:
        digest = parse_digest(whole)
        up = reg.uploads.start(call.name)
        async with up.lock:
            try:
                await reg.uploads.append(up, req.body.stream(), None)
            except BaseException:
                reg.uploads.cancel(up)
                raise
            got = await reg.uploads.finish(up, digest)
        return _created(call, str(got))
    up = reg.uploads.start(call.name)
    return Reply(202, _upload_headers(up, 0))


def _content_range(call: Call, up: Upload, offset: int) -> int | None:
    value = call.req.headers.get("Content-Range")
    if not value:
        return None
    m = _CONTENT_RANGE.fullmatch(value.strip())
    if m is None:
        raise RegistryError(
            "RANGE_INVALID",
            f"malformed Content-Range {value!r}",
            headers=_upload_headers(up, offset),
        )
    first, last = int(m.group(1)), int(m.group(2))
    length = call.req.headers.get("Content-Length")
    if last < first or (
        length is not None and length.isdigit() and int(length) != last - first + 1
    ):
        raise RegistryError(
            "RANGE_INVALID",
            f"Content-Range {value!r} does not match the body's length",
            headers=_upload_headers(up, offset),
        )
    return first


async def upload(reg: Registry, call: Call) -> Reply:
    """``GET``/``PATCH``/``PUT``/``DELETE /v2/<name>/blobs/uploads/<uuid>``."""
    req = call.req
    up = reg.uploads.get(call.name, call.params["uuid"])
    async with up.lock:
        if req.method == "GET":
            return Reply(204, _upload_headers(up, reg.uploads.offset(up)))
        if req.method == "DELETE":
            reg.uploads.cancel(up)
            return Reply(204, {})
        if req.method == "PATCH":
            start = _content_range(call, up, reg.uploads.offset(up))
            offset = await reg.uploads.append(up, req.body.stream(), start)
            return Reply(202, _upload_headers(up, offset))
        # PUT: the last chunk (optional), then verify and commit
        whole = req.arg("digest")
        if not whole:
            raise RegistryError("DIGEST_INVALID", "PUT needs ?digest=<digest>")
        digest = parse_digest(whole)
        if not req.body.done:
            start = _content_range(call, up, reg.uploads.offset(up))
            await reg.uploads.append(up, req.body.stream(), start)
        try:
            got = await reg.uploads.finish(up, digest)
        except NotFound:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": up.uuid}) from None
        return _created(call, str(got))


__all__ = ["blob", "start_upload", "upload"]
