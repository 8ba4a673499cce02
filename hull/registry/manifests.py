"""Manifest routes: PUT/GET/HEAD/DELETE by tag or digest, tag lists, referrers.

A pushed manifest must be one of the four media types (OCI manifest and
index, Docker schema 2 manifest and manifest list; schema 1 is refused with
Docker's message), at most 4 MiB, and every blob it references (config and
layers, or the child manifests of an index) must already be in the
repository. Its bytes are stored exactly as sent and served back with the
stored ``Content-Type`` whatever the ``Accept`` (as distribution does for
OCI types). A ``subject`` makes it a referrer of that digest
(``OCI-Subject`` in the reply; listed by ``/referrers/<digest>``).
"""

from __future__ import annotations

import asyncio

from hull.oci import media_types as mt
from hull.oci.digest import Digest
from hull.oci.image_spec import MAX_MANIFEST_SIZE
from hull.registry.app import Call, Registry, paginate
from hull.registry.errors import RegistryError
from hull.registry.names import parse_digest, parse_reference
from hull.registry.server import Reply, json_reply


async def _read_manifest_body(call: Call) -> bytes:
    length = call.req.headers.get("Content-Length")
    too_big = RegistryError(
        "MANIFEST_INVALID",
        f"manifest too big (the limit is {MAX_MANIFEST_SIZE} bytes, 4 MiB)",
        status=413,
    )
    if length is not None and length.isdigit() and int(length) > MAX_MANIFEST_SIZE:
        raise too_big
    parts: list[bytes] = []
    total = 0
    async for data in call.req.body.stream():
        total += len(data)
        if total > MAX_MANIFEST_SIZE:
            raise too_big
        parts.append(data)
    return b"".join(parts)


async def manifest(reg: Registry, call: Call) -> Reply:
    """``GET``/``HEAD``/``PUT``/``DELETE /v2/<name>/manifests/<reference>``."""
    method = call.req.method
    try:
        ref = parse_reference(call.params["ref"])
    except RegistryError as exc:
        if method == "PUT" or exc.code != "TAG_INVALID":
            raise
        # no manifest can have an invalid tag: it is simply not there
        raise RegistryError("MANIFEST_UNKNOWN", {"tag": call.params["ref"][:200]}) from None
    if method == "PUT":
        data = await _read_manifest_body(call)
        stored = await asyncio.to_thread(
            reg.storage.put_manifest, call.name, ref, data, call.req.headers.get("Content-Type")
        )
        headers = {
            "Location": f"/v2/{call.name}/manifests/{stored.digest}",
            "Docker-Content-Digest": str(stored.digest),
        }
        if stored.subject is not None:
            headers["OCI-Subject"] = str(stored.subject)
        return Reply(201, headers)
    if method == "DELETE":
        if isinstance(ref, Digest):
            await asyncio.to_thread(reg.storage.delete_manifest, call.name, ref)
        else:
            reg.storage.delete_tag(call.name, ref)
        return Reply(202, {})
    info, data = await asyncio.to_thread(reg.storage.read_manifest, call.name, ref)
    headers = {
        "Content-Type": info.media_type,
        "Docker-Content-Digest": str(info.digest),
        "ETag": f'"{info.digest}"',
    }
    return Reply(200, headers, data)


async def tags_list(reg: Registry, call: Call) -> Reply:
    """``GET /v2/<name>/tags/list?n=&last=``: sorted, paginated with ``Link``."""
    tags = await asyncio.to_thread(reg.storage.tags, call.name)
    page, link = paginate(tags, call, f"/v2/{call.name}/tags/list", reg.config.max_page)
    return json_reply({"name": call.name, "tags": page}, headers={"Link": link} if link else None)


async def referrers(reg: Registry, call: Call) -> Reply:
    """``GET /v2/<name>/referrers/<digest>?artifactType=``: an index of referrers."""
    subject = parse_digest(call.params["digest"])
    artifact_type = call.req.arg("artifactType") or None
    found = await asyncio.to_thread(reg.storage.referrers, call.name, subject, artifact_type)
    headers = {"Content-Type": mt.OCI_INDEX}
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": found}
    return json_reply(index, headers=headers)


__all__ = ["manifest", "referrers", "tags_list"]
