"""OCI image-spec objects (and Docker's schema 2 variants) as typed values.

Owns: ``Descriptor``, ``Platform``, ``Manifest`` and ``Index``; parsing with
validation and canonical serialisation. The image configuration is in
:mod:`hull.oci.image_config`, the JSON plumbing both use in
:mod:`hull.oci.jsondoc`.

Parsing (``from_json`` on a decoded object, ``from_bytes`` on raw bytes)
validates once at the edge: a wrong type, a missing required field, an
unsupported ``schemaVersion``, a schema 1 manifest, a bad digest or a negative
size raises ``InvalidArgument`` naming the document and the field
("image manifest: layers[1].size: expected a non-negative integer").
Unknown fields are ignored, as the spec asks.

Serialisation (``to_json`` / ``to_bytes``) uses the spec's field names in the
order Go's ``encoding/json`` writes the image-spec structs, map keys sorted,
compact separators and Go's escaping of ``<``, ``>``, ``&``: the same object
always yields the same bytes and hence the same digest. The digest of an
object *received* from elsewhere is the digest of the received bytes, not of
``to_bytes()`` (which drops unknown fields): keep those bytes.
"""

from __future__ import annotations

import base64
import binascii
import os as _os
from dataclasses import dataclass, field
from typing import Any

from hull.errors import InvalidArgument
from hull.oci import media_types as mt
from hull.oci.digest import Digest, digest_bytes
from hull.oci.jsondoc import Reader, canonical_json, decode, put, sorted_map

# distribution refuses manifests above 4 MiB (registry/handlers/manifests.go).
MAX_MANIFEST_SIZE = 4 * 1024 * 1024

SCHEMA1_MESSAGE = (
    "schema 1 manifests are not supported: Docker Image manifest version 2, schema 1"
    " support has been removed; ask the image's author to push it again in the OCI"
    " image format or as Docker Image manifest v2, schema 2"
    " (https://docs.docker.com/go/deprecated-image-specs/)"
)


# -- Platform and Descriptor --------------------------------------------------------

_ARCH_ALIASES = {
    "i386": "386",
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
}
_KNOWN_ARCHS = frozenset(
    {"386", "amd64", "arm", "arm64", "ppc64le", "s390x", "riscv64", "mips64le", "loong64"}
)


@dataclass(frozen=True)
class Platform:
    """The platform an image runs on (``architecture``, ``os`` and refinements)."""

    architecture: str
    os: str
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    variant: str = ""

    @classmethod
    def from_json(cls, obj: Any, *, doc: str = "platform", path: str = "") -> Platform:
        """Parse a platform object; ``architecture`` and ``os`` are required."""
        return cls._from(Reader(obj, doc, path))

    @classmethod
    def _from(cls, r: Reader) -> Platform:
        return cls(
            architecture=r.req_text("architecture"),
            os=r.req_text("os"),
            os_version=r.text("os.version"),
            os_features=r.texts("os.features") or (),
            variant=r.text("variant"),
        )

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object."""
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        put(out, "os.version", self.os_version)
        put(out, "os.features", list(self.os_features))
        put(out, "variant", self.variant)
        return out

    @classmethod
    def parse(cls, spec: str) -> Platform:
        """Parse ``os[/arch[/variant]]`` as ``--platform`` takes it, normalised.

        Without an architecture, the host's is assumed.
        """
        parts = spec.split("/")
        if not 1 <= len(parts) <= 3 or not all(parts):
            raise InvalidArgument(
                f"invalid platform '{spec}': expected 'os[/arch[/variant]]' (e.g. linux/amd64)"
            )
        os_ = parts[0]
        if len(parts) > 1:
            arch = parts[1]
        elif os_.lower() in _KNOWN_ARCHS or os_.lower() in _ARCH_ALIASES:
            # "--platform arm64" names an architecture, as containerd reads it.
            os_, arch = "linux", os_
        else:
            arch = _os.uname().machine
        variant = parts[2] if len(parts) > 2 else ""
        return cls(architecture=arch, os=os_, variant=variant).normalized()

    def normalized(self) -> Platform:
        """Canonical spelling as containerd's ``platforms.Normalize`` gives it."""
        arch = self.architecture.lower()
        variant = self.variant.lower()
        if arch == "armhf" and not variant:
            variant = "v7"
        elif arch == "armel" and not variant:
            variant = "v6"
        arch = _ARCH_ALIASES.get(arch, arch)
        if (arch, variant) in (("amd64", "v1"), ("arm64", "8"), ("arm64", "v8")):
            variant = ""
        elif arch == "arm":
            if variant in ("", "7"):
                variant = "v7"
            elif variant in ("5", "6", "8"):
                variant = "v" + variant
        return Platform(arch, self.os.lower(), self.os_version, self.os_features, variant)

    def __str__(self) -> str:
        s = f"{self.os}/{self.architecture}"
        return f"{s}/{self.variant}" if self.variant else s


@dataclass(frozen=True)
class Descriptor:
    """A typed, sized, content-addressed pointer to a blob."""

    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None
    platform: Platform | None = None
    artifact_type: str | None = None

    def __post_init__(self) -> None:
        if self.size < 0:
            raise InvalidArgument(f"descriptor {self.digest}: size must be >= 0, not {self.size}")

    def __hash__(self) -> int:
        return hash((self.media_type, self.digest, self.size))

    @classmethod
    def from_json(cls, obj: Any, *, doc: str = "descriptor", path: str = "") -> Descriptor:
        """Parse a descriptor; ``mediaType``, ``digest`` and ``size`` are required."""
        return cls._from(Reader(obj, doc, path))

    @classmethod
    def _from(cls, r: Reader) -> Descriptor:
        media_type = r.req_text("mediaType")
        digest = r.digest("digest")
        size = r.size("size")
        data: bytes | None = None
        encoded = r.opt_text("data")
        if encoded is not None:
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise r.fail("data", "expected base64") from exc
            if len(data) != size or digest_bytes(data, digest.algorithm) != digest:
                raise r.fail("data", "does not match the descriptor's size and digest")
        platform_r = r.obj("platform")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            urls=r.texts("urls") or (),
            annotations=r.text_map("annotations"),
            data=data,
            platform=Platform._from(platform_r) if platform_r else None,
            artifact_type=r.opt_text("artifactType"),
        )

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        put(out, "urls", list(self.urls))
        put(out, "annotations", sorted_map(self.annotations))
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        put(out, "artifactType", self.artifact_type)
        return out


# -- Manifest and Index ---------------------------------------------------------------


def _check_size(data: bytes | bytearray | memoryview | str, doc: str) -> None:
    n = len(data)
    if n > MAX_MANIFEST_SIZE:
        raise InvalidArgument(
            f"{doc} too big: {n} bytes (the limit is {MAX_MANIFEST_SIZE} bytes, 4 MiB)"
        )


def _check_schema(r: Reader, expected: frozenset[str], kind: str) -> str | None:
    """Refuse schema 1 and other media types; return ``mediaType`` (may be absent)."""
    media_type = r.opt_text("mediaType")
    if media_type is not None and mt.is_schema1(media_type):
        raise InvalidArgument(f"{r.doc}: {SCHEMA1_MESSAGE}")
    version = r.integer("schemaVersion")
    if version == 1:
        raise InvalidArgument(f"{r.doc}: {SCHEMA1_MESSAGE}")
    if version != 2:
        raise r.fail("schemaVersion", f"unsupported schema version {version} (expected 2)")
    if media_type is not None and media_type not in expected:
        raise r.fail(
            "mediaType",
            f"expected {' or '.join(sorted(expected))} for an {kind}, not '{media_type}'",
        )
    return media_type


@dataclass(frozen=True)
class Manifest:
    """An image manifest (OCI, or Docker schema 2): a config and its layers."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str | None = mt.OCI_MANIFEST
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    schema_version: int = 2

    @classmethod
    def from_json(cls, obj: Any) -> Manifest:
        """Parse a decoded manifest; see the module docstring for what is checked."""
        r = Reader(obj, "image manifest", "")
        media_type = _check_schema(r, mt.MANIFEST_TYPES, "image manifest")
        if r.has("manifests") and not r.has("config"):
            raise r.fail("manifests", "this is an image index, not a manifest")
        subject_r = r.obj("subject")
        return cls(
            config=Descriptor._from(r.req_obj("config")),
            layers=tuple(Descriptor._from(x) for x in r.objs("layers", required=True)),
            media_type=media_type,
            artifact_type=r.opt_text("artifactType"),
            subject=Descriptor._from(subject_r) if subject_r else None,
            annotations=r.text_map("annotations"),
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview | str) -> Manifest:
        """Parse raw manifest bytes (refused above ``MAX_MANIFEST_SIZE``)."""
        _check_size(data, "image manifest")
        return cls.from_json(decode(data, "image manifest"))

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object."""
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        put(out, "mediaType", self.media_type)
        put(out, "artifactType", self.artifact_type)
        out["config"] = self.config.to_json()
        out["layers"] = [d.to_json() for d in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        put(out, "annotations", sorted_map(self.annotations))
        return out

    def to_bytes(self) -> bytes:
        """Canonical serialisation (what ``digest()`` hashes)."""
        return canonical_json(self.to_json())

    def digest(self) -> Digest:
        """The digest of ``to_bytes()``."""
        return digest_bytes(self.to_bytes())

    def descriptor(self, platform: Platform | None = None) -> Descriptor:
        """A descriptor of ``to_bytes()``, for an index or a tag."""
        data = self.to_bytes()
        return Descriptor(
            media_type=self.media_type or mt.OCI_MANIFEST,
            digest=digest_bytes(data),
            size=len(data),
            platform=platform,
        )


@dataclass(frozen=True)
class Index:
    """An image index (OCI) or manifest list (Docker): manifests per platform."""

    manifests: tuple[Descriptor, ...]
    media_type: str | None = mt.OCI_INDEX
    artifact_type: str | None = None
    subject: Descriptor | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    schema_version: int = 2

    @classmethod
    def from_json(cls, obj: Any) -> Index:
        """Parse a decoded index or manifest list."""
        r = Reader(obj, "image index", "")
        media_type = _check_schema(r, mt.INDEX_TYPES, "image index")
        subject_r = r.obj("subject")
        return cls(
            manifests=tuple(Descriptor._from(x) for x in r.objs("manifests", required=True)),
            media_type=media_type,
            artifact_type=r.opt_text("artifactType"),
            subject=Descriptor._from(subject_r) if subject_r else None,
            annotations=r.text_map("annotations"),
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview | str) -> Index:
        """Parse raw index bytes (refused above ``MAX_MANIFEST_SIZE``)."""
        _check_size(data, "image index")
        return cls.from_json(decode(data, "image index"))

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object."""
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        put(out, "mediaType", self.media_type)
        put(out, "artifactType", self.artifact_type)
        out["manifests"] = [d.to_json() for d in self.manifests]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        put(out, "annotations", sorted_map(self.annotations))
        return out

    def to_bytes(self) -> bytes:
        """Canonical serialisation (what ``digest()`` hashes)."""
        return canonical_json(self.to_json())

    def digest(self) -> Digest:
        """The digest of ``to_bytes()``."""
        return digest_bytes(self.to_bytes())


def parse_manifest_or_index(
    data: bytes | bytearray | memoryview | str, media_type: str | None = None
) -> Manifest | Index:
    """Parse a registry's answer: by ``media_type`` (Content-Type), else by its fields.

    A ``mediaType`` inside the document must agree with ``media_type``.
    """
    _check_size(data, "image manifest")
    if media_type is not None:
        media_type = media_type.split(";", 1)[0].strip()
        if mt.is_schema1(media_type):
            raise InvalidArgument(f"image manifest: {SCHEMA1_MESSAGE}")
    obj = decode(data, "image manifest")
    if not isinstance(obj, dict):
        raise InvalidArgument("image manifest: document: expected an object")
    inner = obj.get("mediaType")
    if isinstance(inner, str) and mt.is_schema1(inner):
        raise InvalidArgument(f"image manifest: {SCHEMA1_MESSAGE}")
    if obj.get("schemaVersion") == 1:
        raise InvalidArgument(f"image manifest: {SCHEMA1_MESSAGE}")
    known = media_type if media_type in mt.MANIFEST_TYPES | mt.INDEX_TYPES else None
    if known and isinstance(inner, str) and inner != known:
        raise InvalidArgument(
            f"image manifest: mediaType '{inner}' does not match the Content-Type '{known}'"
        )
    kind = known or (inner if isinstance(inner, str) else None)
    if kind is None:
        # OCI 1.0 documents may omit mediaType: tell them apart by their fields.
        kind = mt.OCI_INDEX if "manifests" in obj and "config" not in obj else mt.OCI_MANIFEST
    if mt.is_index(kind):
        return Index.from_json(obj)
    if mt.is_manifest(kind):
        return Manifest.from_json(obj)
    raise InvalidArgument(f"image manifest: unsupported media type '{kind}'")


__all__ = [
    "MAX_MANIFEST_SIZE",
    "SCHEMA1_MESSAGE",
    "Descriptor",
    "Index",
    "Manifest",
    "Platform",
    "canonical_json",
    "parse_manifest_or_index",
]
