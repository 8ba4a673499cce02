"""The registry HTTP client: ``http.client`` with auth challenges, tokens, retries.

``RegistryClient(endpoint, auth)`` speaks to one registry. ``request`` sends
one call and answers a ``Reply`` whose body the caller reads (or streams);
around it::

    request ─► attach auth for the scope (cached Basic / Bearer token)
            ─► 401 + WWW-Authenticate ─► Basic: send credentials once more
                                        └► Bearer: GET realm?service=&scope= (Basic creds,
                                           or POST a refresh token; anonymous without
                                           credentials) ─► token cached per scope ─► resend
            ─► 5xx, reset, timeout ─► retry (``tries``, backoff doubling), replayable bodies only
            ─► 3xx to another place (blob storage) ─► follow without our Authorization

Errors are hull's kinds (``error_for``): 401 → Unauthorized, 403 → Unauthorized
("denied"), 404 → NotFound, 4xx → InvalidArgument, 5xx and network → Unavailable,
carrying the registry's own message (``errors[0].message``).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from hull import __version__
from hull.errors import HullError, InvalidArgument, NotFound, Unauthorized, Unavailable

from .credentials import AuthConfig
from .settings import Endpoint

USER_AGENT = f"hull/{__version__}"
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.timeout,
    http.client.HTTPException,
    ssl.SSLError,
    OSError,
)
_PARAM_RE = re.compile(r'([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate``: the scheme and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str | None) -> Challenge | None:
        if not value:
            return None
        scheme, _, rest = value.strip().partition(" ")
        params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                  for m in _PARAM_RE.finditer(rest)}  # fmt: skip
        return cls(scheme.lower(), params)


class Reply:
    """A response: status, headers (lower-case names), the body to read or stream."""

    def __init__(self, resp: http.client.HTTPResponse | None, body: bytes | None = None,
                 status: int = 0, headers: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self._resp = resp
        self._body = body
        self.status = resp.status if resp is not None else status
        if resp is not None:
            self.headers = {k.lower(): v for k, v in resp.getheaders()}
        else:
            self.headers = dict(headers or {})

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def read(self, limit: int | None = None) -> bytes:
        """The whole body (InvalidArgument past ``limit`` bytes)."""
        if self._body is None:
            assert self._resp is not None
            if limit is None:
                self._body = self._resp.read()
            else:
                self._body = self._resp.read(limit + 1)
                if len(self._body) > limit:
                    self.close()
                    raise InvalidArgument(f"response too large: more than {limit} bytes")
        return self._body

    def read1(self, n: int) -> bytes:
        """Up to ``n`` bytes of the body as they arrive ('' at the end)."""
        if self._resp is None:
            data, self._body = (self._body or b"")[:n], (self._body or b"")[n:]
            return data
        return self._resp.read1(n)

    def readinto1(self, b: memoryview) -> int:
        """What has arrived of the body (at most one read), into ``b``; 0 at its end.

        ``read1`` without a new buffer per call: a download reads into one
        buffer from start to end (no allocation, no page faults per read).
        """
        resp = self._resp
        if resp is None or resp.chunked or resp.fp is None:  # http.client unframes chunks
            data = self.read1(len(b))
            b[: len(data)] = data
            return len(data)
        if resp.length is not None:
            b = b[: resp.length]
        got = resp.fp.readinto1(b) if len(b) else 0
        if resp.length is not None:
            resp.length -= got
        if got == 0 or resp.length == 0:
            resp.read()  # the end: http.client marks the response done (the connection is free)
        return got

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()

    def json(self) -> Any:
        try:
            return json.loads(self.read(1 << 20) or b"null")
        except ValueError as exc:
            raise InvalidArgument(f"registry answered invalid JSON: {exc}") from exc


def registry_message(status: int, body: bytes) -> str:
    """The registry's ``errors[0]`` as ``code: message``, else a short body or the status."""
    try:
        doc = json.loads(body)
        errs = doc.get("errors") if isinstance(doc, dict) else None
        if errs and isinstance(errs[0], dict):
            code = str(errs[0].get("code") or "").lower().replace("_", " ")
            msg = str(errs[0].get("message") or "")
            if code == "denied" or code == "unauthorized":
                return f"{code}: {msg}" if msg else code
            return msg or code or f"HTTP {status}"
        if isinstance(doc, dict) and isinstance(doc.get("details"), str):
            return str(doc["details"])
    except (ValueError, AttributeError, TypeError):
        pass
    text = body[:200].decode("utf-8", "replace").strip()
    return text or f"HTTP {status} {http.client.responses.get(status, '')}".strip()


def error_for(reply: Reply, what: str) -> HullError:
    """The hull error for a failed reply, naming what was asked."""
    try:
        body = reply.read(1 << 16)
    except (InvalidArgument, OSError, http.client.HTTPException):
        body = b""
    msg = registry_message(reply.status, body)
    text = f"{what}: {msg}"
    if reply.status in (401, 403):
        return Unauthorized(text)
    if reply.status == 404:
        return NotFound(text)
    if 400 <= reply.status < 500:
        return InvalidArgument(text)
    return Unavailable(text)


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, socket.gaierror):
        return f"lookup failed: {exc.strerror or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


class RegistryClient:
    """HTTP calls to one registry, with its auth and retries (see the module docstring)."""

    def __init__(
        self,
        endpoint: Endpoint,
        auth: AuthConfig | None = None,
        *,
        timeout: float = 60.0,
        tries: int = 3,
        backoff: float = 0.5,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.auth = auth
        self.timeout = timeout
        self.tries = max(1, tries)
        self.backoff = backoff
        self._ssl = ssl_context  # made on first HTTPS use (see _connection)
        self._challenge: Challenge | None = None
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- connections ----------------------------------------------------------------------

    def _connection(self, scheme: str, host: str) -> http.client.HTTPConnection:
        if scheme == "https":
            # loading the system's CA certificates takes ~20 ms: not for plain HTTP
            with self._lock:
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()
                context = self._ssl
            return http.client.HTTPSConnection(host, timeout=self.timeout, context=context)
        return http.client.HTTPConnection(host, timeout=self.timeout)

    def _pooled(self) -> http.client.HTTPConnection:
        """This thread's keep-alive connection to the endpoint (a fresh one if busy)."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        last: Reply | None = getattr(self._local, "last", None)
        busy = last is not None and last._resp is not None and not last._resp.isclosed()
        if conn is not None and busy:
            conn.close()
            conn = None
        if conn is None:
            scheme = "https" if self.endpoint.secure else "http"
            conn = self._connection(scheme, self.endpoint.host)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def close(self) -> None:
        """Close this thread's connection."""
        self._drop()

    # -- auth -----------------------------------------------------------------------------

    def _basic(self) -> str | None:
        a = self.auth
        if a is None or not (a.username or a.password):
            return None
        raw = f"{a.username}:{a.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _authorization(self, scopes: tuple[str, ...], *, fresh: bool = False) -> str | None:
        ch = self._challenge
        if ch is None:
            return None
        if ch.scheme == "basic":
            return self._basic()
        if ch.scheme != "bearer":
            return None
        key = " ".join(sorted(scopes))
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and not fresh and cached[1] > time.monotonic():
                return f"Bearer {cached[0]}"
        token, expires = self._fetch_token(ch, scopes)
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(expires - 10, 10))
        return f"Bearer {token}"

    def _fetch_token(self, ch: Challenge, scopes: tuple[str, ...]) -> tuple[str, float]:
        realm = ch.params.get("realm")
        if not realm:
            raise Unauthorized("registry asked for a bearer token without a realm")
        service = ch.params.get("service", "")
        if ch.params.get("scope") and not scopes:
            scopes = tuple(ch.params["scope"].split(" "))
        a = self.auth
        if a is not None and a.identity_token:
            form = [("grant_type", "refresh_token"), ("refresh_token", a.identity_token),
                    ("service", service), ("client_id", "hull")]  # fmt: skip
            form += [("scope", s) for s in scopes]
            reply = self._raw("POST", realm, {"Content-Type": "application/x-www-form-urlencoded"},
                              urllib.parse.urlencode(form).encode())  # fmt: skip
        else:
            query = [("service", service)] if service else []
            query += [("scope", s) for s in scopes]
            if a is not None and a.username:
                query.append(("account", a.username))
            sep = "&" if "?" in realm else "?"
            url = realm + (sep + urllib.parse.urlencode(query) if query else "")
            headers = {}
            basic = self._basic()
            if basic:
                headers["Authorization"] = basic
            reply = self._raw("GET", url, headers, None)
        if reply.status != 200:
            raise error_for(reply, "getting a registry token")
        doc = reply.json()
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise Unauthorized("registry token endpoint answered no token")
        expires = doc.get("expires_in", 60)
        return token, float(expires) if isinstance(expires, (int, float)) else 60.0

    def _raw(self, method: str, url: str, headers: Mapping[str, str],
             body: bytes | None) -> Reply:  # fmt: skip
        """One call to an absolute URL on a connection of its own (token realm, redirects)."""
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise InvalidArgument(f"registry pointed to an unusable URL {url!r}")
        conn = self._connection(u.scheme, u.netloc)
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        h = {"User-Agent": USER_AGENT, **headers}
        last: BaseException | None = None
        for attempt in range(self.tries):
            try:
                conn.request(method, path, body=body, headers=h)
                resp = conn.getresponse()
            except NETWORK_ERRORS as exc:
                conn.close()
                last = exc
                time.sleep(self.backoff * (2**attempt))
                continue
            if resp.status >= 500 and attempt + 1 < self.tries:
                resp.read()
                time.sleep(self.backoff * (2**attempt))
                continue
            return Reply(resp)
        raise Unavailable(f"{method} {u.netloc}: {last}") from last

    # -- requests -------------------------------------------------------------------------

    def ping(self) -> Reply:
        """``GET /v2/``: learns the auth challenge; 200 or 401 are both answers."""
        reply = self._send_once("GET", "/v2/", {}, None, ())
        if reply.status == 401:
            self._challenge = Challenge.parse(reply.header("www-authenticate"))
        reply.read()
        return reply

    def _send_once(self, method: str, path: str, headers: Mapping[str, str],
                   body: bytes | BinaryIO | None, scopes: tuple[str, ...],
                   auth: str | None = None) -> Reply:  # fmt: skip
        h = {"User-Agent": USER_AGENT, **headers}
        if auth:
            h["Authorization"] = auth
        if body is None and method in ("POST", "PUT", "PATCH"):
            h.setdefault("Content-Length", "0")
        conn = self._pooled()
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
        except NETWORK_ERRORS:
            self._drop()
            raise
        reply = Reply(resp)
        self._local.last = reply
        if method == "HEAD":
            resp.read()
        return reply

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        body: bytes | BinaryIO | None = None,
        follow: bool = True,
    ) -> Reply:
        """One call (retried when replayable), authenticated for ``scopes``."""
        scopes = tuple(scopes)
        replayable = body is None or isinstance(body, bytes)
        last: BaseException | None = None
        for attempt in range(self.tries if replayable else 1):
            if attempt:
                time.sleep(self.backoff * (2 ** (attempt - 1)))
            try:
                reply = self._authed(method, path, dict(headers or {}), body, scopes)
            except HullError:
                raise  # Unauthorized is a PermissionError, not a network failure
            except NETWORK_ERRORS as exc:
                last = exc
                if isinstance(exc, socket.gaierror | ConnectionRefusedError):
                    break  # no such host / nobody listens: retrying will not help
                continue
            if reply.status >= 500 and replayable and attempt + 1 < self.tries:
                reply.read()
                last = Unavailable(f"registry answered {reply.status}")
                continue
            if follow and reply.status in (301, 302, 303, 307, 308) and reply.header("location"):
                return self._redirect(method, path, reply, headers or {})
            return reply
        raise Unavailable(f'{method} "{self.endpoint.base_url}{path}": {_describe(last)}') from last

    def _authed(self, method: str, path: str, headers: dict[str, str],
                body: bytes | BinaryIO | None, scopes: tuple[str, ...]) -> Reply:  # fmt: skip
        auth = self._authorization(scopes)
        reply = self._send_once(method, path, headers, body, scopes, auth)
        if reply.status != 401:
            return reply
        challenge = Challenge.parse(reply.header("www-authenticate"))
        reply.read()
        if challenge is None:
            return reply
        if self._challenge == challenge and auth is not None and challenge.scheme == "basic":
            return reply  # our credentials were refused
        self._challenge = challenge
        if challenge.scheme == "bearer" and challenge.params.get("scope") and not scopes:
            scopes = tuple(challenge.params["scope"].split(" "))
        auth = self._authorization(scopes, fresh=True)
        if auth is None:
            return reply
        if not (body is None or isinstance(body, bytes)):
            raise Unauthorized("registry asked for credentials after the upload began")
        return self._send_once(method, path, headers, body, scopes, auth)

    def _redirect(self, method: str, path: str, reply: Reply,
                  headers: Mapping[str, str]) -> Reply:  # fmt: skip
        reply.read()
        base = self.endpoint.base_url + path
        url = urllib.parse.urljoin(base, reply.header("location") or "")
        target = urllib.parse.urlsplit(url)
        h = dict(headers)
        if target.netloc == self.endpoint.host:
            auth = self._authorization(())
            if auth:
                h["Authorization"] = auth
        for _ in range(5):
            r = self._raw(method, url, h, None)
            if r.status in (301, 302, 303, 307, 308) and r.header("location"):
                r.read()
                url = urllib.parse.urljoin(url, r.header("location") or "")
                h.pop("Authorization", None)
                continue
            return r
        raise Unavailable(f"too many redirects for {path}")


__all__ = [
    "NETWORK_ERRORS",
    "Challenge",
    "RegistryClient",
    "Reply",
    "error_for",
    "registry_message",
]
