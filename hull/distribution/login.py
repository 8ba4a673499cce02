"""``docker login``: check credentials against a registry (``/v2/`` with its auth challenge)."""

from __future__ import annotations

from hull.errors import Unauthorized

from .credentials import AuthConfig, hostname_of
from .settings import DOCKER_HUB_DOMAIN, RegistrySettings
from .transport import RegistryClient, registry_message


def validate_login(
    auth: AuthConfig, settings: RegistrySettings | None = None, *, timeout: float = 30.0
) -> str:
    """Unauthorized unless ``auth`` is accepted by its server; "Login Succeeded"."""
    settings = settings or RegistrySettings()
    host = hostname_of(auth.server_address) if auth.server_address else DOCKER_HUB_DOMAIN
    if host in ("index.docker.io", "registry.hub.docker.com"):
        host = DOCKER_HUB_DOMAIN
    client = RegistryClient(settings.endpoint(host), auth, timeout=timeout, tries=2, backoff=0.2)
    try:
        reply = client.ping()
        if reply.status == 401:
            reply = client.request("GET", "/v2/")
            body = reply.read(1 << 16)
            if reply.status in (401, 403):
                raise Unauthorized(
                    f"login attempt to {client.endpoint.base_url}/v2/ failed with status: "
                    f"{reply.status} {registry_message(reply.status, body)}"
                )
    finally:
        client.close()
    return "Login Succeeded"


__all__ = ["validate_login"]
