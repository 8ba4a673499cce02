"""Authentication and authorisation of the registry: htpasswd, Basic, Bearer tokens.

Auth is on when an htpasswd file (bcrypt entries, as ``htpasswd -B`` writes)
is given. A request then proves who it is by

* ``Authorization: Basic`` with a user and password of the htpasswd file, or
* ``Authorization: Bearer <token>`` with a token of our ``/token`` endpoint,

or comes anonymously. The token flow is Docker's: a request without enough
rights gets ``401`` with ``WWW-Authenticate: Bearer realm=".../token",
service="hull-registry",scope="repository:<name>:pull,push"``; the client
asks ``GET /token?service=…&scope=…`` with Basic credentials (or none) and
gets a token granting the part of the scope that the user may have.

Tokens are ``base64url(claims).base64url(HMAC-SHA256(key, claims))``; the key
is 32 random bytes made at first start under ``<root>/auth/token.key``.
Claims: ``sub`` (user, "" for anonymous), ``access`` (Docker's list of
``{"type", "name", "actions"}``), ``iat``, ``exp``.

Permissions (``--auth-config``, JSON)::

    {"users": {"alice": {"push": ["team/*"], "pull": ["*"]}}, "anonymous_pull": true}

Patterns are ``fnmatch`` globs on repository names; ``push`` implies
``pull`` and ``delete``. Without a config every htpasswd user may push and
pull everything, and anonymous users nothing. Never is a write allowed
without a valid identity while auth is on.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hull.errors import InvalidArgument
from hull.registry.errors import RegistryError
from hull.registry.storage import atomic_write

SERVICE = "hull-registry"
TOKEN_TTL = 300
_CACHE_TTL = 300.0


@dataclass(frozen=True)
class Scope:
    """One access request: ``repository:<name>:pull,push`` or ``registry:catalog:*``."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        """Parse Docker's scope syntax."""
        type_, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not sep or not sep2 or not type_ or not name:
            raise InvalidArgument(f"invalid scope {text!r}: expected TYPE:NAME:ACTIONS")
        return cls(type_, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


@dataclass(frozen=True)
class UserRights:
    """The repository patterns a user may push to and pull from."""

    push: tuple[str, ...] = ()
    pull: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthConfig:
    """Per-repository permissions; ``None`` users means every user may do everything."""

    users: dict[str, UserRights] | None = None
    anonymous_pull: bool = False

    @classmethod
    def load(cls, path: Path) -> AuthConfig:
        """Read the JSON permissions file."""
        try:
            obj = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"cannot read auth config {path}: {exc}") from exc
        if not isinstance(obj, dict):
            raise InvalidArgument(f"auth config {path}: expected a JSON object")
        users: dict[str, UserRights] = {}
        for user, rights in (obj.get("users") or {}).items():
            if not isinstance(rights, dict):
                raise InvalidArgument(f"auth config {path}: users.{user}: expected an object")
            users[str(user)] = UserRights(
                push=tuple(str(p) for p in rights.get("push") or ()),
                pull=tuple(str(p) for p in rights.get("pull") or ()),
            )
        return cls(users=users, anonymous_pull=bool(obj.get("anonymous_pull", False)))

    def allowed(self, user: str | None, scope_type: str, name: str, action: str) -> bool:
        """Whether ``user`` (``None``: anonymous) may do ``action`` on ``name``."""
        if scope_type == "registry":
            return user is not None or self.anonymous_pull
        if user is None:
            return action == "pull" and self.anonymous_pull
        if self.users is None:
            return True
        rights = self.users.get(user)
        if rights is None:
            return action == "pull" and self.anonymous_pull
        push = any(fnmatch.fnmatchcase(name, p) for p in rights.push)
        if action in ("push", "delete", "*"):
            return push
        return (
            push or any(fnmatch.fnmatchcase(name, p) for p in rights.pull) or (self.anonymous_pull)
        )


class Htpasswd:
    """An htpasswd file of bcrypt entries, re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._mtime = -1.0
        self._entries: dict[str, bytes] = {}
        self._ok: dict[bytes, float] = {}
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise InvalidArgument(f"cannot read htpasswd file {self.path}: {exc}") from exc
        if st.st_mtime == self._mtime:
            return
        entries: dict[str, bytes] = {}
        for line in self.path.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if sep and hashed.startswith(("$2y$", "$2b$", "$2a$")):
                entries[user] = hashed.encode()
        self._entries, self._mtime, self._ok = entries, st.st_mtime, {}

    def verify(self, user: str, password: str) -> bool:
        """Whether the password is right (a success is cached for a few minutes)."""
        import bcrypt  # only needed when auth is on

        with self._lock:
            self._load()
            hashed = self._entries.get(user)
        if hashed is None:
            return False
        key = hashlib.sha256(hashed + b"\0" + user.encode() + b"\0" + password.encode()).digest()
        now = time.monotonic()
        if self._ok.get(key, 0.0) > now:
            return True
        # bcrypt wants $2b$; htpasswd writes $2y$, the same algorithm.
        candidate = b"$2b$" + hashed[4:] if hashed.startswith(b"$2y$") else hashed
        try:
            good = bool(bcrypt.checkpw(password.encode(), candidate))
        except ValueError:
            return False
        if good:
            self._ok[key] = now + _CACHE_TTL
        return good


class TokenSigner:
    """Issues and verifies HMAC-signed bearer tokens."""

    def __init__(self, key_path: Path) -> None:
        key_path = Path(key_path)
        if not key_path.exists():
            key_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            atomic_write(key_path, secrets.token_bytes(32))
            os.chmod(key_path, 0o600)
        self._key = key_path.read_bytes()

    def issue(self, sub: str, access: list[dict[str, Any]], ttl: int = TOKEN_TTL) -> str:
        """A token for ``sub`` with ``access``, valid ``ttl`` seconds."""
        now = int(time.time())
        claims: dict[str, Any] = {"iss": SERVICE, "aud": SERVICE, "sub": sub, "access": access}
        claims |= {"iat": now, "nbf": now - 5, "exp": now + ttl, "jti": secrets.token_hex(8)}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._sign(payload))}"

    def _sign(self, payload: str) -> bytes:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).digest()

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired token; ``None`` otherwise."""
        payload, sep, sig = token.partition(".")
        if not sep:
            return None
        try:
            good = hmac.compare_digest(_unb64(sig), self._sign(payload))
            claims = json.loads(_unb64(payload)) if good else None
        except (ValueError, binascii.Error):
            return None
        if not isinstance(claims, dict) or claims.get("exp", 0) < time.time():
            return None
        return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Identity:
    """Who a request is: a user (``None``: anonymous) and, for a token, its grants."""

    user: str | None
    claims: dict[str, Any] | None = None
    grants: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def token_allows(self, scope_type: str, name: str, action: str) -> bool:
        actions = self.grants.get((scope_type, name), set())
        return action in actions or "*" in actions or (action == "delete" and "push" in actions)


class Authorizer:
    """Decides, per request, whether its identity may do what the route needs."""

    def __init__(self, htpasswd: Htpasswd | None, config: AuthConfig, signer: TokenSigner) -> None:
        self.htpasswd = htpasswd
        self.config = config
        self.signer = signer

    @property
    def enabled(self) -> bool:
        return self.htpasswd is not None

    def identify(self, authorization: str | None, realm: str) -> Identity:
        """The identity of a request; UNAUTHORIZED for bad credentials."""
        if not authorization:
            return Identity(None)
        scheme, _, cred = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            user, password = _basic(cred)
            if self.htpasswd is not None and self.htpasswd.verify(user, password):
                return Identity(user)
        elif scheme == "bearer":
            claims = self.signer.verify(cred.strip())
            if claims is not None:
                grants: dict[tuple[str, str], set[str]] = {}
                for a in claims.get("access") or []:
                    key = (str(a.get("type")), str(a.get("name")))
                    grants.setdefault(key, set()).update(str(x) for x in a.get("actions") or [])
                return Identity(claims.get("sub") or None, claims, grants)
        raise self.challenge(realm, None, "invalid credentials")

    def challenge(
        self, realm: str, scope: Scope | None, detail: str | None = None
    ) -> RegistryError:
        """A 401 whose ``WWW-Authenticate`` tells the client where to get a token."""
        value = f'Bearer realm="{realm}",service="{SERVICE}"'
        if scope is not None:
            value += f',scope="{scope}"'
            if detail == "insufficient_scope":
                value += ',error="insufficient_scope"'
        return RegistryError(
            "UNAUTHORIZED",
            [{"Type": scope.type, "Name": scope.name, "Action": a} for a in scope.actions]
            if scope
            else detail,
            headers={"WWW-Authenticate": value},
        )

    def check(self, ident: Identity, realm: str, scope: Scope | None) -> None:
        """Raise UNAUTHORIZED (401, with a challenge) or DENIED (403) unless allowed."""
        if not self.enabled:
            return
        if scope is None:  # the /v2/ base: any valid identity
            if ident.user is None and ident.claims is None:
                raise self.challenge(realm, None, "authentication required")
            return
        for action in scope.actions:
            if ident.claims is not None:
                if ident.token_allows(scope.type, scope.name, action):
                    continue
                if ident.user is not None and not self.config.allowed(
                    ident.user, scope.type, scope.name, action
                ):
                    raise RegistryError("DENIED", {"scope": str(scope)})
                raise self.challenge(realm, scope, "insufficient_scope")
            if self.config.allowed(ident.user, scope.type, scope.name, action):
                continue
            if ident.user is None:
                raise self.challenge(realm, scope)
            raise RegistryError("DENIED", {"scope": str(scope)})

    def grant(self, user: str | None, scopes: list[Scope]) -> list[dict[str, Any]]:
        """The part of ``scopes`` that ``user`` may have, as a token's access list."""
        access: list[dict[str, Any]] = []
        for s in scopes:
            if self.enabled:
                acts = [a for a in s.actions if self.config.allowed(user, s.type, s.name, a)]
            else:
                acts = list(s.actions)
            access.append({"type": s.type, "name": s.name, "actions": acts})
        return access

    def token(self, ident: Identity, scopes: list[Scope]) -> dict[str, Any]:
        """The ``/token`` answer for a verified identity."""
        token = self.signer.issue(ident.user or "", self.grant(ident.user, scopes))
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_TTL,
            "issued_at": issued,
        }


def _basic(cred: str) -> tuple[str, str]:
    try:
        text = base64.b64decode(cred.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, _, password = text.partition(":")
    return user, password


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """The user and password of a Basic ``Authorization`` header, if it is one."""
    if not authorization:
        return None
    scheme, _, cred = authorization.partition(" ")
    return _basic(cred) if scheme.lower() == "basic" else None


__all__ = [
    "SERVICE",
    "AuthConfig",
    "Authorizer",
    "Htpasswd",
    "Identity",
    "Scope",
    "TokenSigner",
    "UserRights",
    "basic_credentials",
]
