"""The registry application: routing, auth and read-only checks, small routes.

Routes (``<name>`` may contain ``/``; it is validated before use)::

    GET        /v2/                                  base check
    GET        /v2/_catalog?n=&last=                 repositories
    GET        /v2/<name>/tags/list?n=&last=         tags          (manifests.py)
    GET|HEAD|PUT|DELETE /v2/<name>/manifests/<ref>                 (manifests.py)
    GET        /v2/<name>/referrers/<digest>         referrers     (manifests.py)
    POST       /v2/<name>/blobs/uploads/             start, mount, monolithic (blobs.py)
    GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<uuid>           (blobs.py)
    GET|HEAD|DELETE /v2/<name>/blobs/<digest>                      (blobs.py)
    GET|POST   /token                                bearer tokens
    GET        /v1/search?q=&n=&page=, /v1/_ping      Docker Hub's search (search.py)

Each route names the scope it needs (``pull`` for reads, ``push`` for
writes, ``delete`` for deletes); ``Registry.handle`` identifies the caller
and checks that scope before the route runs, and refuses every write with
``405 UNSUPPORTED`` when read-only.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote

from hull.api.http import Request
from hull.errors import InvalidArgument
from hull.registry.auth import AuthConfig, Authorizer, Htpasswd, Identity, Scope, TokenSigner
from hull.registry.errors import RegistryError
from hull.registry.names import validate_name
from hull.registry.server import Reply, json_reply
from hull.registry.storage import RegistryStorage
from hull.registry.uploads import Uploads


@dataclass
class RegistryConfig:
    """What ``serve`` was asked for."""

    root: Path
    htpasswd: Path | None = None
    auth_config: Path | None = None
    read_only: bool = False
    tls: bool = False
    max_page: int = 10000


@dataclass
class Call:
    """One routed request: the request, its path parameters and its caller."""

    req: Request
    name: str = ""
    params: dict[str, str] = field(default_factory=dict)
    ident: Identity = field(default_factory=lambda: Identity(None))
    realm: str = ""


RouteFn = Callable[["Registry", Call], Awaitable[Reply]]
_WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_N = r"(?P<name>.+)"
_HOST_RE = re.compile(r"[A-Za-z0-9.\-]+(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?")


def _action(method: str) -> str:
    if method in ("GET", "HEAD"):
        return "pull"
    return "delete" if method == "DELETE" else "push"


def paginate(
    items: list[str], call: Call, base: str, max_page: int
) -> tuple[list[str], str | None]:
    """Apply ``n`` and ``last``; return the page and a ``Link`` header value if more."""
    last = call.req.arg("last")
    n_text = call.req.arg("n")
    if last:
        items = [i for i in items if i > last]
    if n_text is None or n_text == "":
        return items, None
    try:
        n = int(n_text)
    except ValueError:
        raise RegistryError("PAGINATION_NUMBER_INVALID", {"n": n_text}) from None
    if n < 0 or n > max_page:
        raise RegistryError("PAGINATION_NUMBER_INVALID", {"n": n_text})
    page = items[:n]
    if len(items) > n and page:
        return page, f'<{base}?n={n}&last={quote(page[-1], safe="")}>; rel="next"'
    return page, None


class Registry:
    """The registry: storage, uploads, auth, and the route table."""

    def __init__(self, config: RegistryConfig) -> None:
        # the route modules import this one (Call, Registry): import them late
        from hull.registry import blobs, manifests

        self.config = config
        self.storage = RegistryStorage(config.root)
        self.uploads = Uploads(self.storage)
        htpasswd = Htpasswd(config.htpasswd) if config.htpasswd else None
        auth_config = AuthConfig.load(config.auth_config) if config.auth_config else AuthConfig()
        self.auth = Authorizer(
            htpasswd, auth_config, TokenSigner(config.root / "auth" / "token.key")
        )
        # (methods, pattern, handler, needs a repository scope)
        self.routes: list[tuple[frozenset[str], re.Pattern[str], RouteFn]] = [
            (frozenset({"GET", "HEAD"}), re.compile(r"/v2/?"), Registry.base),
            (frozenset({"GET"}), re.compile(r"/v2/_catalog"), Registry.catalog),
            (frozenset({"GET"}), re.compile(rf"/v2/{_N}/tags/list"), manifests.tags_list),
            (
                frozenset({"GET", "HEAD", "PUT", "DELETE"}),
                re.compile(rf"/v2/{_N}/manifests/(?P<ref>[^/]+)"),
                manifests.manifest,
            ),
            (
                frozenset({"GET"}),
                re.compile(rf"/v2/{_N}/referrers/(?P<digest>[^/]+)"),
                manifests.referrers,
            ),
            (frozenset({"POST"}), re.compile(rf"/v2/{_N}/blobs/uploads/?"), blobs.start_upload),
            (
                frozenset({"GET", "PATCH", "PUT", "DELETE"}),
                re.compile(rf"/v2/{_N}/blobs/uploads/(?P<uuid>[^/]+)"),
                blobs.upload,
            ),
            (
                frozenset({"GET", "HEAD", "DELETE"}),
                re.compile(rf"/v2/{_N}/blobs/(?P<digest>[^/]+)"),
                blobs.blob,
            ),
        ]
        self._janitor: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ dispatch

    def realm(self, req: Request) -> str:
        """The token endpoint's URL as this client reaches the server."""
        host = req.headers.get("Host") or ""
        if not host or not _HOST_RE.fullmatch(host):
            host = "127.0.0.1"  # never echo a malformed Host into a header
        return f"{'https' if self.config.tls else 'http'}://{host}/token"

    async def handle(self, req: Request) -> Reply:
        """Route, authorise and answer one request."""
        if self._janitor is None:
            self._janitor = asyncio.get_running_loop().create_task(self._close_idle())
        path = req.path
        if path == "/token":
            return await self.token(req)
        if path in ("/v1/search", "/v1/_ping"):
            from hull.registry.search import search

            return await search(self, req)
        if not path.startswith("/v2"):
            raise RegistryError(
                "UNSUPPORTED", {"path": path[:200]}, status=404, message="not found"
            )
        allowed: set[str] = set()
        for methods, pattern, fn in self.routes:
            m = pattern.fullmatch(path)
            if m is None:
                continue
            if req.method not in methods:
                allowed |= methods
                continue
            call = Call(req, params=m.groupdict(), realm=self.realm(req))
            return await self._run(call, fn)
        if allowed:
            raise RegistryError("UNSUPPORTED", {"method": req.method}, message="method not allowed")
        raise RegistryError("UNSUPPORTED", {"path": path[:200]}, status=404, message="not found")

    async def _run(self, call: Call, fn: RouteFn) -> Reply:
        req = call.req
        name = call.params.pop("name", None)
        scope: Scope | None = None
        if name is not None:
            call.name = validate_name(name)
            scope = Scope("repository", call.name, (_action(req.method),))
        elif fn is Registry.catalog:
            scope = Scope("registry", "catalog", ("*",))
        if self.auth.enabled:
            call.ident = await asyncio.to_thread(
                self.auth.identify, req.headers.get("Authorization"), call.realm
            )
            challenge_scope = scope
            if scope is not None and scope.type == "repository" and req.method in _WRITE:
                challenge_scope = Scope("repository", scope.name, ("pull", "push"))
            try:
                self.auth.check(call.ident, call.realm, scope)
            except RegistryError as exc:
                if exc.code == "UNAUTHORIZED" and challenge_scope is not scope:
                    # ask for pull and push at once, as distribution does for writes
                    detail = "insufficient_scope" if call.ident.claims is not None else None
                    raise self.auth.challenge(call.realm, challenge_scope, detail) from None
                raise
        if self.config.read_only and req.method in _WRITE:
            raise RegistryError("UNSUPPORTED", "the registry is read-only")
        return await fn(self, call)

    def may(self, call: Call, name: str, action: str) -> bool:
        """Whether the caller may ``action`` on another repository (mount's ``from``)."""
        if not self.auth.enabled:
            return True
        try:
            self.auth.check(call.ident, call.realm, Scope("repository", name, (action,)))
        except RegistryError:
            return False
        return True

    async def _close_idle(self) -> None:
        while True:
            await asyncio.sleep(15)
            self.uploads.close_idle()

    def close(self) -> None:
        """Stop the janitor, close open upload writers."""
        if self._janitor is not None:
            self._janitor.cancel()
        self.uploads.close_all()

    # ------------------------------------------------------------- small routes

    async def base(self, call: Call) -> Reply:
        """``GET /v2/``: the API is here (and the caller is authenticated)."""
        return json_reply({})

    async def catalog(self, call: Call) -> Reply:
        """``GET /v2/_catalog``: repositories the caller may pull, paginated."""
        repos = await asyncio.to_thread(self.storage.catalog)
        if self.auth.enabled:
            repos = [r for r in repos if self.may(call, r, "pull")]
        page, link = paginate(repos, call, "/v2/_catalog", self.config.max_page)
        return json_reply({"repositories": page}, headers={"Link": link} if link else None)

    async def token(self, req: Request) -> Reply:
        """``GET /token`` (Docker) or ``POST /token`` (OAuth2 password grant)."""
        query = dict(req.query)
        authorization = req.headers.get("Authorization")
        if req.method == "POST":
            form = parse_qs((await req.body.read()).decode("utf-8", "replace"))
            query.update(form)
            user, password = (form.get("username") or [""])[0], (form.get("password") or [""])[0]
            if user:
                import base64

                cred = base64.b64encode(f"{user}:{password}".encode()).decode()
                authorization = f"Basic {cred}"
        elif req.method != "GET":
            raise RegistryError("UNSUPPORTED", {"method": req.method})
        realm = self.realm(req)
        if authorization and authorization.lower().startswith("bearer"):
            authorization = None  # a token is not a credential for a new token
        ident = await asyncio.to_thread(self.auth.identify, authorization, realm)
        scopes: list[Scope] = []
        for value in query.get("scope", []):
            for text in value.split():
                try:
                    scopes.append(Scope.parse(text))
                except InvalidArgument:
                    continue
        out = self.auth.token(ident, scopes)
        if req.method == "POST":
            out["scope"] = " ".join(str(s) for s in scopes)
        return json_reply(out)


__all__ = ["Call", "Registry", "RegistryConfig", "paginate"]
