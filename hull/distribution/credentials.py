"""Registry credentials: ``X-Registry-Auth`` values and a docker-compatible ``config.json``.

``AuthConfig`` is Docker's ``types.AuthConfig``. The file is the docker CLI's
(``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``): logins are
``auths[<server>].auth`` = base64(``user:password``) (or ``identitytoken``),
Docker Hub under ``https://index.docker.io/v1/``. Credential helpers
(``credsStore``/``credHelpers``) are not run: such setups are refused with a
message saying so. Writes keep every other key and are atomic, mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from hull.errors import FailedPrecondition, InvalidArgument

# `hull pull` reads credentials on its way to the daemon: no typing or
# tempfile (~6 ms) on that path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_HUB_NAMES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)


@dataclass(frozen=True)
class AuthConfig:
    """Credentials for one registry (Docker's ``AuthConfig``)."""

    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""
    server_address: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def to_json(self) -> dict[str, str]:
        out = {
            "username": self.username,
            "password": self.password,
            "serveraddress": self.server_address,
        }
        if self.identity_token:
            out["identitytoken"] = self.identity_token
        if self.registry_token:
            out["registrytoken"] = self.registry_token
        return {k: v for k, v in out.items() if v}

    @classmethod
    def from_json(cls, obj: Any) -> AuthConfig:
        if not isinstance(obj, dict):
            raise InvalidArgument("registry auth: expected a JSON object")

        def text(*keys: str) -> str:
            for k in keys:
                v = obj.get(k)
                if isinstance(v, str) and v:
                    return v
            return ""

        username, password = text("username", "Username"), text("password", "Password")
        encoded = text("auth", "Auth")
        if encoded and not username:
            username, password = decode_basic(encoded)
        return cls(
            username=username,
            password=password,
            identity_token=text("identitytoken", "IdentityToken"),
            registry_token=text("registrytoken", "RegistryToken"),
            server_address=text("serveraddress", "ServerAddress"),
        )

    def to_header(self) -> str:
        """The ``X-Registry-Auth`` value: base64url of the JSON."""
        raw = json.dumps(self.to_json(), separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def from_header(cls, value: str | None) -> AuthConfig | None:
        """Parse ``X-Registry-Auth`` (base64url or plain base64 JSON); None if absent/empty."""
        if not value or not value.strip():
            return None
        text = value.strip()
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            obj = json.loads(raw)
        except (binascii.Error, ValueError):
            try:
                obj = json.loads(base64.b64decode(text + "=" * (-len(text) % 4)))
            except (binascii.Error, ValueError):
                raise InvalidArgument("invalid X-Registry-Auth header: not base64 JSON") from None
        if obj is None or obj == {}:
            return None
        auth = cls.from_json(obj)
        return None if auth.empty else auth


def decode_basic(encoded: str) -> tuple[str, str]:
    """``base64(user:password)`` → (user, password)."""
    try:
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("invalid auth configuration: auth is not base64") from None
    user, sep, password = text.partition(":")
    if not sep:
        raise InvalidArgument("invalid auth configuration: auth has no ':'")
    return user, password.strip("\x00")


def hostname_of(server: str) -> str:
    """Docker's ``ConvertToHostname``: ``https://host:5000/v1/`` → ``host:5000``."""
    for scheme in ("https://", "http://"):
        if server.startswith(scheme):
            server = server[len(scheme) :]
    return server.split("/", 1)[0]


def auth_key(server: str) -> str:
    """The ``auths`` key for a registry (Hub: ``https://index.docker.io/v1/``)."""
    host = hostname_of(server) if server else "docker.io"
    return DOCKER_HUB_AUTH_KEY if host in _HUB_NAMES or not host else host


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ if env is None else env
    base = env.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path(env.get("HOME") or Path.home()) / ".docker" / "config.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"{path}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path}: expected a JSON object")
    return data


def _helper_refused(data: Mapping[str, Any], key: str, path: Path) -> None:
    helpers = data.get("credHelpers") or {}
    if data.get("credsStore") or (isinstance(helpers, dict) and key in helpers):
        raise FailedPrecondition(
            f"{path} names a credential helper (credsStore/credHelpers), which hull does not "
            "run; remove it to store logins in the file"
        )


def load_credentials(server: str, path: Path | None = None) -> AuthConfig | None:
    """The stored login for ``server`` (a host, a URL or ``docker.io``), or None."""
    path = path or config_path()
    data = _read(path)
    auths = data.get("auths") or {}
    if not isinstance(auths, dict):
        return None
    want = auth_key(server)
    for key, entry in auths.items():
        if auth_key(str(key)) != want or not isinstance(entry, dict):
            continue
        auth = AuthConfig.from_json(entry)
        if not auth.empty:
            return AuthConfig(
                auth.username, auth.password, auth.identity_token, "", server_address=want
            )
    return None


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            json.dump(data, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def store_credentials(server: str, auth: AuthConfig, path: Path | None = None) -> Path:
    """Save a login (``docker login``); the file written."""
    path = path or config_path()
    data = _read(path)
    key = auth_key(server)
    _helper_refused(data, key, path)
    auths = data.get("auths")
    if not isinstance(auths, dict):
        auths = data["auths"] = {}
    for k in [k for k in auths if auth_key(str(k)) == key]:
        del auths[k]
    entry: dict[str, str] = {}
    if auth.identity_token:
        entry["identitytoken"] = auth.identity_token
    else:
        entry["auth"] = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
    auths[key] = entry
    _write_atomic(path, data)
    return path


def erase_credentials(server: str, path: Path | None = None) -> bool:
    """Remove the login for ``server`` (``docker logout``); whether there was one."""
    path = path or config_path()
    data = _read(path)
    auths = data.get("auths")
    if not isinstance(auths, dict):
        return False
    key = auth_key(server)
    found = [k for k in auths if auth_key(str(k)) == key]
    if not found:
        return False
    for k in found:
        del auths[k]
    _write_atomic(path, data)
    return True


__all__ = [
    "DOCKER_HUB_AUTH_KEY",
    "AuthConfig",
    "auth_key",
    "config_path",
    "decode_basic",
    "erase_credentials",
    "hostname_of",
    "load_credentials",
    "store_credentials",
]
