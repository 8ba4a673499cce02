"""Where registries are and how to reach them: insecure registries, mirrors, a default registry.

``RegistrySettings`` is one value that callers pass explicitly. ``from_env``
reads ``<data-root>/registries.json`` (daemon.json's spelling:
``insecure-registries``, ``registry-mirrors``, ``default-registry``,
``max-concurrent-downloads``, ``max-concurrent-uploads``) and then the
``HULL_INSECURE_REGISTRIES``, ``HULL_REGISTRY_MIRRORS`` (comma-separated),
``HULL_DEFAULT_REGISTRY`` and ``HULL_MAX_CONCURRENT_DOWNLOADS`` variables.

As Docker: a loopback registry (``localhost``, 127.0.0.0/8, ``::1``) and the
ones named insecure are spoken to over plain HTTP, every other over HTTPS
with verified certificates. Mirrors apply to Docker Hub only; they change
where bytes come from, never the image's name. ``default_registry`` replaces
``registry-1.docker.io`` for Docker Hub names (offline sites:
``hull pull busybox`` fetches ``localhost:5000/library/busybox`` and names
the image ``busybox:latest``).
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hull.errors import InvalidArgument

DOCKER_HUB_DOMAIN = "docker.io"
DOCKER_HUB_REGISTRY = "registry-1.docker.io"


@dataclass(frozen=True)
class Endpoint:
    """One place to talk to: ``host[:port]`` and the scheme."""

    host: str
    secure: bool = True
    mirror: bool = False

    @property
    def base_url(self) -> str:
        return f"{'https' if self.secure else 'http'}://{self.host}"


def _host_only(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``::1`` (with or without a port)."""
    name = _host_only(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _strip_scheme(value: str) -> str:
    for scheme in ("https://", "http://"):
        if value.startswith(scheme):
            value = value[len(scheme) :]
    return value.rstrip("/")


@dataclass(frozen=True)
class RegistrySettings:
    """How the registry client reaches registries (see the module docstring)."""

    insecure_registries: tuple[str, ...] = ()
    registry_mirrors: tuple[str, ...] = ()
    default_registry: str | None = None
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5

    def __post_init__(self) -> None:
        if self.max_concurrent_downloads < 1 or self.max_concurrent_uploads < 1:
            raise InvalidArgument("max-concurrent-downloads/uploads must be at least 1")

    def is_insecure(self, host: str) -> bool:
        """Plain HTTP for this ``host[:port]``?"""
        if is_loopback(host):
            return True
        name = _host_only(host)
        for entry in self.insecure_registries:
            entry = _strip_scheme(entry)
            if entry in (host, name):
                return True
            if "/" in entry:  # a CIDR
                try:
                    if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def endpoint(self, host: str, *, mirror: bool = False) -> Endpoint:
        """The endpoint of ``host[:port]`` (the registry of a ``docker.io`` name is Hub's)."""
        host = _strip_scheme(host)
        if host == DOCKER_HUB_DOMAIN:
            host = DOCKER_HUB_REGISTRY
        return Endpoint(host, secure=not self.is_insecure(host), mirror=mirror)

    def endpoints(self, domain: str) -> list[Endpoint]:
        """Where to pull a name of ``domain`` from, in order (mirrors first, for Hub)."""
        if domain != DOCKER_HUB_DOMAIN:
            return [self.endpoint(domain)]
        out = [self.endpoint(m, mirror=True) for m in self.registry_mirrors]
        out.append(self.endpoint(self.default_registry or DOCKER_HUB_REGISTRY))
        return out

    def push_endpoint(self, domain: str) -> Endpoint:
        """Where a push of a name of ``domain`` goes (never a mirror)."""
        if domain == DOCKER_HUB_DOMAIN and self.default_registry:
            return self.endpoint(self.default_registry)
        return self.endpoint(domain)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RegistrySettings:
        """From daemon.json-style keys (``insecure-registries``, ``registry-mirrors``, …)."""

        def strings(key: str) -> tuple[str, ...]:
            v = data.get(key, data.get(key.replace("-", "_"), ()))
            if isinstance(v, str):
                v = [x for x in v.split(",") if x.strip()]
            if not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
                raise InvalidArgument(f"registry settings: {key}: expected a list of strings")
            return tuple(x.strip() for x in v)

        def number(key: str, default: int) -> int:
            v = data.get(key, data.get(key.replace("-", "_"), default))
            try:
                return int(v)
            except (TypeError, ValueError):
                raise InvalidArgument(f"registry settings: {key}: expected an integer") from None

        default = data.get("default-registry", data.get("default_registry")) or None
        if default is not None and not isinstance(default, str):
            raise InvalidArgument("registry settings: default-registry: expected a string")
        return cls(
            insecure_registries=strings("insecure-registries"),
            registry_mirrors=tuple(_strip_scheme(m) for m in strings("registry-mirrors")),
            default_registry=_strip_scheme(default) if default else None,
            max_concurrent_downloads=number("max-concurrent-downloads", 3),
            max_concurrent_uploads=number("max-concurrent-uploads", 5),
        )

    @classmethod
    def from_env(
        cls, data_root: Path | None = None, env: Mapping[str, str] | None = None
    ) -> RegistrySettings:
        """``<data_root>/registries.json``, then ``HULL_*`` variables (see the module docstring)."""
        env = os.environ if env is None else env
        data: dict[str, Any] = {}
        if data_root is not None:
            path = Path(data_root) / "registries.json"
            try:
                loaded = json.loads(path.read_text())
            except FileNotFoundError:
                loaded = {}
            except ValueError as exc:
                raise InvalidArgument(f"{path}: invalid JSON: {exc}") from exc
            if not isinstance(loaded, dict):
                raise InvalidArgument(f"{path}: expected a JSON object")
            data.update(loaded)
        for key, var in (
            ("insecure-registries", "HULL_INSECURE_REGISTRIES"),
            ("registry-mirrors", "HULL_REGISTRY_MIRRORS"),
            ("default-registry", "HULL_DEFAULT_REGISTRY"),
            ("max-concurrent-downloads", "HULL_MAX_CONCURRENT_DOWNLOADS"),
        ):
            if env.get(var):
                data[key] = env[var]
        return cls.from_mapping(data)


__all__ = [
    "DOCKER_HUB_DOMAIN",
    "DOCKER_HUB_REGISTRY",
    "Endpoint",
    "RegistrySettings",
    "is_loopback",
]
