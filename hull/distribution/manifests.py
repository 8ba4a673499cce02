"""Manifests for a pull: fetched (verified, size-limited) and chosen from an index.

``fetch_manifest`` GETs one manifest by tag or digest with Docker's Accept
list, refuses schema 1 with Docker's message, checks the digest asked for
(or the registry's ``Docker-Content-Digest``) and words a missing
repository as ``docker pull`` does. ``choose_manifest`` picks an index
entry for a platform, an exact variant first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hull.errors import InvalidArgument, NotFound
from hull.oci import media_types as mt
from hull.oci.digest import Digest, digest_bytes
from hull.oci.image_spec import (
    MAX_MANIFEST_SIZE,
    Descriptor,
    Index,
    Platform,
    parse_manifest_or_index,
)

from .transport import error_for, registry_message

if TYPE_CHECKING:
    from hull.images.reference import Reference

    from .transport import RegistryClient

ACCEPT = ", ".join((*mt.MANIFEST_ACCEPT, mt.DOCKER_SCHEMA1_SIGNED_MANIFEST))


@dataclass(frozen=True)
class Fetched:
    """A manifest as received: its bytes, media type and digest."""

    data: bytes
    media_type: str
    digest: Digest


def host_platform() -> Platform:
    """``linux/<this machine's architecture>``."""
    return Platform.parse("linux")


def pull_denied(ref: Reference, detail: str) -> NotFound:
    """Docker's answer when the repository is unknown or needs a login."""
    return NotFound(
        f"pull access denied for {ref.familiar_name()}, repository does not exist or may "
        f"require 'docker login': {detail}"
    )


def fetch_manifest(
    client: RegistryClient, ref: Reference, reference: str, expected: Digest | None
) -> Fetched:
    """GET one manifest by tag or digest; verified and size-limited."""
    scope = f"repository:{ref.path}:pull"
    reply = client.request(
        "GET", f"/v2/{ref.path}/manifests/{reference}", scopes=[scope], headers={"Accept": ACCEPT}
    )
    if reply.status in (401, 403):
        raise pull_denied(ref, registry_message(reply.status, reply.read(1 << 16)))
    if reply.status == 404:
        body = reply.read(1 << 16)
        if b"NAME_UNKNOWN" in body or b"name unknown" in body.lower():
            raise pull_denied(ref, registry_message(404, body))
        shown = ref.familiar() if ref.digest is None else f"{ref.familiar_name()}@{reference}"
        raise NotFound(f"manifest for {shown} not found: manifest unknown: "
                       f"{registry_message(404, body)}")  # fmt: skip
    if reply.status != 200:
        raise error_for(reply, f"fetching manifest {ref.path}:{reference}")
    length = reply.header("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_MANIFEST_SIZE:
        reply.close()
        raise InvalidArgument(
            f"manifest {ref.path}:{reference} is too big: {length} bytes "
            f"(the limit is {MAX_MANIFEST_SIZE})"
        )
    try:
        data = reply.read(MAX_MANIFEST_SIZE)
    except InvalidArgument:
        raise InvalidArgument(
            f"manifest {ref.path}:{reference} is too big (the limit is {MAX_MANIFEST_SIZE})"
        ) from None
    media_type = (reply.header("content-type") or "").split(";", 1)[0].strip()
    if mt.is_schema1(media_type):
        parse_manifest_or_index(data, media_type)  # raises Docker's message
    algorithm = expected.algorithm if expected is not None else "sha256"
    digest = digest_bytes(data, algorithm)
    if expected is not None and digest != expected:
        raise InvalidArgument(
            f"manifest verification failed for digest {expected}: received content has "
            f"digest {digest}"
        )
    header = reply.header("docker-content-digest")
    if expected is None and header:
        try:
            claimed = Digest.parse(header)
        except InvalidArgument:
            claimed = None
        if claimed is not None and digest_bytes(data, claimed.algorithm) != claimed:
            raise InvalidArgument(
                f"manifest verification failed for {ref.path}:{reference}: content does not "
                f"match the registry's Docker-Content-Digest {claimed}"
            )
    return Fetched(data, media_type, digest)


def platform_match(want: Platform, have: Platform | None) -> int:
    """0: no; 1: os/arch match; 2: the variant matches too."""
    if have is None:
        return 0
    have = have.normalized()
    if have.os != want.os or have.architecture != want.architecture:
        return 0
    if want.variant and have.variant and want.variant != have.variant:
        return 0
    return 2 if want.variant == have.variant else 1


def choose_manifest(index: Index, want: Platform) -> Descriptor:
    """The index entry for ``want`` (exact variant preferred); NotFound as Docker words it."""
    best: tuple[int, Descriptor] | None = None
    for desc in index.manifests:
        if not mt.is_manifest(desc.media_type) and desc.media_type:
            continue
        score = platform_match(want, desc.platform)
        if score and (best is None or score > best[0]):
            best = (score, desc)
    if best is None:
        raise NotFound(f"no matching manifest for {want} in the manifest list entries")
    return best[1]


__all__ = [
    "ACCEPT",
    "Fetched",
    "choose_manifest",
    "fetch_manifest",
    "host_platform",
    "platform_match",
    "pull_denied",
]
