"""OCI image-spec objects (and Docker's schema 2 variants) as typed values.

Owns: ``Descriptor``, ``Platform``, ``Manifest``, ``Index`` and
``ImageConfig`` (with ``ContainerConfig``, ``HealthConfig``, ``RootFS``,
``History``); parsing with validation, canonical serialisation, chain IDs.

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
import json
import os as _os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hull.errors import InvalidArgument
from hull.oci import media_types as mt
from hull.oci.digest import Digest, digest_bytes

# distribution refuses manifests above 4 MiB (registry/handlers/manifests.go).
MAX_MANIFEST_SIZE = 4 * 1024 * 1024

SCHEMA1_MESSAGE = (
    "schema 1 manifests are not supported: Docker Image manifest version 2, schema 1"
    " support has been removed; ask the image's author to push it again in the OCI"
    " image format or as Docker Image manifest v2, schema 2"
    " (https://docs.docker.com/go/deprecated-image-specs/)"
)


# -- JSON helpers -----------------------------------------------------------------


def canonical_json(obj: Any) -> bytes:
    """Compact JSON as Go's ``json.Marshal`` writes it (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # These characters can only occur inside string literals, so a plain
    # replace is exact; Go escapes them (HTML safety) and so do we, to match.
    text = (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return text.encode("utf-8")


def _decode(data: bytes | bytearray | memoryview | str, doc: str) -> Any:
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
        return json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(f"{doc}: invalid JSON: {exc}") from exc


class _R:
    """Typed access to one JSON object, with its path for error messages."""

    __slots__ = ("d", "doc", "path")

    def __init__(self, d: Any, doc: str, path: str) -> None:
        if not isinstance(d, dict):
            raise InvalidArgument(f"{doc}: {path or 'document'}: expected an object")
        self.d: dict[str, Any] = d
        self.doc = doc
        self.path = path

    def p(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, what: str) -> InvalidArgument:
        return InvalidArgument(f"{self.doc}: {self.p(key)}: {what}")

    def has(self, key: str) -> bool:
        return self.d.get(key) is not None

    def text(self, key: str, default: str = "") -> str:
        v = self.d.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self.fail(key, "expected a string")
        return v

    def req_text(self, key: str) -> str:
        v = self.d.get(key)
        if v is None:
            raise self.fail(key, "required field is missing")
        if not isinstance(v, str):
            raise self.fail(key, "expected a string")
        return v

    def opt_text(self, key: str) -> str | None:
        v = self.d.get(key)
        if v is not None and not isinstance(v, str):
            raise self.fail(key, "expected a string")
        return v

    def integer(self, key: str, default: int | None = None) -> int:
        v = self.d.get(key)
        if v is None:
            if default is None:
                raise self.fail(key, "required field is missing")
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(key, "expected an integer")
        return v

    def size(self, key: str) -> int:
        v = self.integer(key)
        if v < 0:
            raise self.fail(key, "expected a non-negative integer")
        return v

    def flag(self, key: str) -> bool:
        v = self.d.get(key)
        if v is None:
            return False
        if not isinstance(v, bool):
            raise self.fail(key, "expected true or false")
        return v

    def digest(self, key: str) -> Digest:
        v = self.req_text(key)
        try:
            return Digest.parse(v)
        except InvalidArgument as exc:
            raise self.fail(key, exc.message) from exc

    def texts(self, key: str) -> tuple[str, ...] | None:
        v = self.d.get(key)
        if v is None:
            return None
        if not isinstance(v, list):
            raise self.fail(key, "expected an array of strings")
        for i, s in enumerate(v):
            if not isinstance(s, str):
                raise self.fail(f"{key}[{i}]", "expected a string")
        return tuple(v)

    def text_map(self, key: str) -> dict[str, str]:
        v = self.d.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.fail(key, "expected an object of strings")
        for k, s in v.items():
            if not isinstance(s, str):
                raise self.fail(f"{key}.{k}", "expected a string")
        return dict(v)

    def key_set(self, key: str) -> tuple[str, ...]:
        """A Go ``map[string]struct{}`` (ExposedPorts, Volumes): its keys, sorted."""
        v = self.d.get(key)
        if v is None:
            return ()
        if not isinstance(v, dict):
            raise self.fail(key, "expected an object")
        for k, s in v.items():
            if s is not None and not isinstance(s, dict):
                raise self.fail(f"{key}.{k}", "expected an object")
        return tuple(sorted(v))

    def obj(self, key: str) -> _R | None:
        v = self.d.get(key)
        if v is None:
            return None
        if not isinstance(v, dict):
            raise self.fail(key, "expected an object")
        return _R(v, self.doc, self.p(key))

    def req_obj(self, key: str) -> _R:
        r = self.obj(key)
        if r is None:
            raise self.fail(key, "required field is missing")
        return r

    def objs(self, key: str, required: bool = False) -> list[_R]:
        v = self.d.get(key)
        if v is None:
            if required:
                raise self.fail(key, "required field is missing")
            return []
        if not isinstance(v, list):
            raise self.fail(key, "expected an array of objects")
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "expected an object")
            out.append(_R(item, self.doc, f"{self.p(key)}[{i}]"))
        return out


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is empty (Go's ``omitempty``)."""
    if not value:  # None, "", 0, False, [], {}
        return
    out[key] = value


def _sorted_map(m: dict[str, str]) -> dict[str, str]:
    return {k: m[k] for k in sorted(m)}


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
        return cls._from(_R(obj, doc, path))

    @classmethod
    def _from(cls, r: _R) -> Platform:
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
        _put(out, "os.version", self.os_version)
        _put(out, "os.features", list(self.os_features))
        _put(out, "variant", self.variant)
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
        return cls._from(_R(obj, doc, path))

    @classmethod
    def _from(cls, r: _R) -> Descriptor:
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
        _put(out, "urls", list(self.urls))
        _put(out, "annotations", _sorted_map(self.annotations))
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode("ascii")
        if self.platform is not None:
            out["platform"] = self.platform.to_json()
        _put(out, "artifactType", self.artifact_type)
        return out


# -- Manifest and Index ---------------------------------------------------------------


def _check_size(data: bytes | bytearray | memoryview | str, doc: str) -> None:
    n = len(data)
    if n > MAX_MANIFEST_SIZE:
        raise InvalidArgument(
            f"{doc} too big: {n} bytes (the limit is {MAX_MANIFEST_SIZE} bytes, 4 MiB)"
        )


def _check_schema(r: _R, expected: frozenset[str], kind: str) -> str | None:
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
        r = _R(obj, "image manifest", "")
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
        return cls.from_json(_decode(data, "image manifest"))

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object."""
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        _put(out, "mediaType", self.media_type)
        _put(out, "artifactType", self.artifact_type)
        out["config"] = self.config.to_json()
        out["layers"] = [d.to_json() for d in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        _put(out, "annotations", _sorted_map(self.annotations))
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
        r = _R(obj, "image index", "")
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
        return cls.from_json(_decode(data, "image index"))

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object."""
        out: dict[str, Any] = {"schemaVersion": self.schema_version}
        _put(out, "mediaType", self.media_type)
        _put(out, "artifactType", self.artifact_type)
        out["manifests"] = [d.to_json() for d in self.manifests]
        if self.subject is not None:
            out["subject"] = self.subject.to_json()
        _put(out, "annotations", _sorted_map(self.annotations))
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
    obj = _decode(data, "image manifest")
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


# -- Image configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class HealthConfig:
    """Docker's ``Healthcheck`` extension; durations are in nanoseconds."""

    test: tuple[str, ...] | None = None
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    @classmethod
    def _from(cls, r: _R) -> HealthConfig:
        return cls(
            test=r.texts("Test"),
            interval=r.integer("Interval", 0),
            timeout=r.integer("Timeout", 0),
            start_period=r.integer("StartPeriod", 0),
            start_interval=r.integer("StartInterval", 0),
            retries=r.integer("Retries", 0),
        )

    def to_json(self) -> dict[str, Any]:
        """Docker's JSON object."""
        out: dict[str, Any] = {}
        if self.test is not None:
            out["Test"] = list(self.test)
        _put(out, "Interval", self.interval)
        _put(out, "Timeout", self.timeout)
        _put(out, "StartPeriod", self.start_period)
        _put(out, "StartInterval", self.start_interval)
        _put(out, "Retries", self.retries)
        return out


@dataclass(frozen=True)
class ContainerConfig:
    """The ``config`` of an image configuration: defaults for its containers.

    List fields are ``None`` when absent; Docker tells ``null`` from ``[]``
    (``ENTRYPOINT []`` clears the entrypoint), so both survive a round trip.
    """

    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    env: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    args_escaped: bool = False
    healthcheck: HealthConfig | None = None
    on_build: tuple[str, ...] | None = None
    shell: tuple[str, ...] | None = None

    @classmethod
    def _from(cls, r: _R) -> ContainerConfig:
        health_r = r.obj("Healthcheck")
        return cls(
            user=r.text("User"),
            exposed_ports=r.key_set("ExposedPorts"),
            env=r.texts("Env"),
            entrypoint=r.texts("Entrypoint"),
            cmd=r.texts("Cmd"),
            volumes=r.key_set("Volumes"),
            working_dir=r.text("WorkingDir"),
            labels=r.text_map("Labels"),
            stop_signal=r.text("StopSignal"),
            args_escaped=r.flag("ArgsEscaped"),
            healthcheck=HealthConfig._from(health_r) if health_r else None,
            on_build=r.texts("OnBuild"),
            shell=r.texts("Shell"),
        )

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object (with Docker's extensions after the OCI fields)."""
        out: dict[str, Any] = {}
        _put(out, "User", self.user)
        _put(out, "ExposedPorts", {p: {} for p in sorted(self.exposed_ports)})
        for key, value in (
            ("Env", self.env),
            ("Entrypoint", self.entrypoint),
            ("Cmd", self.cmd),
        ):
            if value is not None:
                out[key] = list(value)
        _put(out, "Volumes", {v: {} for v in sorted(self.volumes)})
        _put(out, "WorkingDir", self.working_dir)
        _put(out, "Labels", _sorted_map(self.labels))
        _put(out, "StopSignal", self.stop_signal)
        _put(out, "ArgsEscaped", self.args_escaped)
        if self.healthcheck is not None:
            out["Healthcheck"] = self.healthcheck.to_json()
        if self.on_build is not None:
            out["OnBuild"] = list(self.on_build)
        if self.shell is not None:
            out["Shell"] = list(self.shell)
        return out


@dataclass(frozen=True)
class RootFS:
    """The layers of an image by uncompressed digest (``diff_ids``), bottom first."""

    diff_ids: tuple[Digest, ...] = ()
    type: str = "layers"

    @classmethod
    def _from(cls, r: _R) -> RootFS:
        type_ = r.req_text("type")
        if type_ != "layers":
            raise r.fail("type", f"expected 'layers', not '{type_}'")
        raw = r.texts("diff_ids")
        if raw is None:
            raise r.fail("diff_ids", "required field is missing")
        ids = []
        for i, s in enumerate(raw):
            try:
                ids.append(Digest.parse(s))
            except InvalidArgument as exc:
                raise r.fail(f"diff_ids[{i}]", exc.message) from exc
        return cls(diff_ids=tuple(ids), type=type_)

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object."""
        return {"type": self.type, "diff_ids": [str(d) for d in self.diff_ids]}


@dataclass(frozen=True)
class History:
    """One build step; ``empty_layer`` steps added no entry to ``diff_ids``."""

    created: str | None = None
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    @classmethod
    def _from(cls, r: _R) -> History:
        return cls(
            created=r.opt_text("created"),
            created_by=r.text("created_by"),
            author=r.text("author"),
            comment=r.text("comment"),
            empty_layer=r.flag("empty_layer"),
        )

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object."""
        out: dict[str, Any] = {}
        _put(out, "created", self.created)
        _put(out, "created_by", self.created_by)
        _put(out, "author", self.author)
        _put(out, "comment", self.comment)
        _put(out, "empty_layer", self.empty_layer)
        return out


@dataclass(frozen=True)
class ImageConfig:
    """An image configuration: platform, container defaults, layers, history.

    Docker's image ID is the digest of the configuration's bytes.
    """

    architecture: str
    os: str
    rootfs: RootFS
    config: ContainerConfig = field(default_factory=ContainerConfig)
    created: str | None = None
    author: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    variant: str = ""
    history: tuple[History, ...] = ()

    @classmethod
    def from_json(cls, obj: Any) -> ImageConfig:
        """Parse a decoded image configuration."""
        r = _R(obj, "image config", "")
        config_r = r.obj("config")
        return cls(
            architecture=r.req_text("architecture"),
            os=r.req_text("os"),
            rootfs=RootFS._from(r.req_obj("rootfs")),
            config=ContainerConfig._from(config_r) if config_r else ContainerConfig(),
            created=r.opt_text("created"),
            author=r.text("author"),
            os_version=r.text("os.version"),
            os_features=r.texts("os.features") or (),
            variant=r.text("variant"),
            history=tuple(History._from(h) for h in r.objs("history")),
        )

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview | str) -> ImageConfig:
        """Parse raw configuration bytes."""
        return cls.from_json(_decode(data, "image config"))

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object, in the order of the image-spec's Go struct."""
        out: dict[str, Any] = {}
        _put(out, "created", self.created)
        _put(out, "author", self.author)
        out["architecture"] = self.architecture
        out["os"] = self.os
        _put(out, "os.version", self.os_version)
        _put(out, "os.features", list(self.os_features))
        _put(out, "variant", self.variant)
        out["config"] = self.config.to_json()
        out["rootfs"] = self.rootfs.to_json()
        _put(out, "history", [h.to_json() for h in self.history])
        return out

    def to_bytes(self) -> bytes:
        """Canonical serialisation (what ``digest()`` hashes)."""
        return canonical_json(self.to_json())

    def digest(self) -> Digest:
        """The digest of ``to_bytes()``: the image ID of this configuration."""
        return digest_bytes(self.to_bytes())

    def platform(self) -> Platform:
        """The platform this image is for."""
        return Platform(self.architecture, self.os, self.os_version, self.os_features, self.variant)

    def chain_ids(self) -> list[Digest]:
        """The chain IDs of ``rootfs.diff_ids`` (snapshot keys), bottom first."""
        return chain_ids(self.rootfs.diff_ids)


def image_id(config_bytes: bytes | bytearray | memoryview) -> Digest:
    """Docker's image ID: the digest of the configuration blob as stored."""
    return digest_bytes(config_bytes)


def chain_ids(diff_ids: Iterable[Digest]) -> list[Digest]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[Digest] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append(digest_bytes(f"{out[-1]} {diff_id}".encode("ascii")))
    return out


__all__ = [
    "MAX_MANIFEST_SIZE",
    "SCHEMA1_MESSAGE",
    "ContainerConfig",
    "Descriptor",
    "HealthConfig",
    "History",
    "ImageConfig",
    "Index",
    "Manifest",
    "Platform",
    "RootFS",
    "canonical_json",
    "chain_ids",
    "image_id",
    "parse_manifest_or_index",
]
