"""The image configuration (``ImageConfig`` and its parts) as typed values.

Parsed and serialised like the documents of :mod:`hull.oci.image_spec`
(validated once at the edge, Go's field order and escaping): Docker's image
ID is the digest of a configuration's bytes, and chain IDs come from its
``rootfs.diff_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hull.errors import InvalidArgument
from hull.oci.digest import Digest, digest_bytes
from hull.oci.image_spec import Platform
from hull.oci.jsondoc import Reader, canonical_json, decode, put, sorted_map


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
    def _from(cls, r: Reader) -> HealthConfig:
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
        put(out, "Interval", self.interval)
        put(out, "Timeout", self.timeout)
        put(out, "StartPeriod", self.start_period)
        put(out, "StartInterval", self.start_interval)
        put(out, "Retries", self.retries)
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
    def _from(cls, r: Reader) -> ContainerConfig:
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
        put(out, "User", self.user)
        put(out, "ExposedPorts", {p: {} for p in sorted(self.exposed_ports)})
        for key, value in (
            ("Env", self.env),
            ("Entrypoint", self.entrypoint),
            ("Cmd", self.cmd),
        ):
            if value is not None:
                out[key] = list(value)
        put(out, "Volumes", {v: {} for v in sorted(self.volumes)})
        put(out, "WorkingDir", self.working_dir)
        put(out, "Labels", sorted_map(self.labels))
        put(out, "StopSignal", self.stop_signal)
        put(out, "ArgsEscaped", self.args_escaped)
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
    def _from(cls, r: Reader) -> RootFS:
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
    def _from(cls, r: Reader) -> History:
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
        put(out, "created", self.created)
        put(out, "created_by", self.created_by)
        put(out, "author", self.author)
        put(out, "comment", self.comment)
        put(out, "empty_layer", self.empty_layer)
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
        r = Reader(obj, "image config", "")
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
        return cls.from_json(decode(data, "image config"))

    def to_json(self) -> dict[str, Any]:
        """The spec's JSON object, in the order of the image-spec's Go struct."""
        out: dict[str, Any] = {}
        put(out, "created", self.created)
        put(out, "author", self.author)
        out["architecture"] = self.architecture
        out["os"] = self.os
        put(out, "os.version", self.os_version)
        put(out, "os.features", list(self.os_features))
        put(out, "variant", self.variant)
        out["config"] = self.config.to_json()
        out["rootfs"] = self.rootfs.to_json()
        put(out, "history", [h.to_json() for h in self.history])
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
    "ContainerConfig",
    "HealthConfig",
    "History",
    "ImageConfig",
    "RootFS",
    "chain_ids",
    "image_id",
]
