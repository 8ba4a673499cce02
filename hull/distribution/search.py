"""``docker search``: repositories of a registry whose name contains a term.

``search(term)`` asks, in order::

    GET /v1/search?q=&n=   Docker Hub's search API (Hub, hull's registry, Harbor…)
      └ 404/405/501/400 ─► GET /v2/_catalog?n=  (every other distribution registry;
                            pages followed by ``Link``), names containing the term

and raises one error naming both when neither is allowed or offered. The
registry is the term's first component when it looks like a host (has a
``.`` or a ``:``, or is ``localhost``: ``127.0.0.1:5000/app``), else Docker
Hub's index, or the default registry setting when there is one.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from hull.errors import InvalidArgument, NotFound, Unauthorized

from .credentials import AuthConfig
from .settings import DOCKER_HUB_DOMAIN, RegistrySettings
from .transport import RegistryClient, error_for, registry_message

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
# catalog pages we follow at most: a bound on a huge registry
MAX_CATALOG_PAGES = 50
CATALOG_PAGE = 1000  # distribution refuses more than its maxentries, 1000 by default
HUB_INDEX = "index.docker.io"
_NO_SEARCH = (400, 404, 405, 501)
_Outcome = list["SearchResult"] | tuple[int, str]  # results, or (status, message): not offered


@dataclass(frozen=True)
class SearchResult:
    """One repository found: Docker's ``registry.SearchResult``."""

    name: str
    description: str = ""
    star_count: int = 0
    is_official: bool = False
    is_automated: bool = False

    @classmethod
    def from_json(cls, obj: Any) -> SearchResult:
        """From a v1 search result object; InvalidArgument if it has no name."""
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            raise InvalidArgument("registry search answered a result without a name")
        stars = obj.get("star_count")
        return cls(
            name=obj["name"],
            description=str(obj.get("description") or ""),
            star_count=stars if isinstance(stars, int) and not isinstance(stars, bool) else 0,
            is_official=obj.get("is_official") is True,
            is_automated=obj.get("is_automated") is True,
        )

    def to_json(self) -> dict[str, Any]:
        """The Engine API's JSON for this result."""
        return {"name": self.name, "description": self.description,
                "star_count": self.star_count, "is_official": self.is_official,
                "is_automated": self.is_automated}  # fmt: skip


def split_term(term: str) -> tuple[str, str]:
    """(registry host, or ``docker.io``; the term proper), as the docker daemon splits it."""
    first, sep, rest = term.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        return DOCKER_HUB_DOMAIN, term
    return first, rest


def _host(domain: str, settings: RegistrySettings) -> str:
    if domain != DOCKER_HUB_DOMAIN:
        return domain
    return settings.default_registry or HUB_INDEX


def search(
    term: str,
    *,
    limit: int = DEFAULT_LIMIT,
    auth: AuthConfig | None = None,
    settings: RegistrySettings | None = None,
    timeout: float = 30.0,
) -> list[SearchResult]:
    """At most ``limit`` repositories matching ``term`` (see the module docstring)."""
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidArgument(f"limit {limit} is outside the range of [1, {MAX_LIMIT}]")
    settings = settings or RegistrySettings()
    domain, query = split_term(term.strip())
    host = _host(domain, settings)
    if domain == DOCKER_HUB_DOMAIN and not settings.default_registry:
        query = query.removeprefix("library/")
    client = RegistryClient(settings.endpoint(host), auth, timeout=timeout, tries=2, backoff=0.2)
    try:
        if auth is not None:
            # learn the auth challenge first, so that the search goes with credentials
            # (a registry answers an anonymous search too, with fewer repositories)
            client.ping()
        v1 = _v1_search(client, query, limit)
        if isinstance(v1, list):
            return v1
        catalog = _catalog_search(client, query, limit)
        if isinstance(catalog, list):
            return catalog
    finally:
        client.close()
    base = client.endpoint.base_url
    text = (f"registry {host} offers no search: {base}/v1/search answered {v1[0]} "
            f"({v1[1]}) and {base}/v2/_catalog answered {catalog[0]} ({catalog[1]})")  # fmt: skip
    if catalog[0] in (401, 403):
        raise Unauthorized(text + "; log in with an account that may list the catalog")
    raise NotFound(text)


def _v1_search(client: RegistryClient, query: str, limit: int) -> _Outcome:
    path = "/v1/search?" + urllib.parse.urlencode({"q": query, "n": str(limit)})
    reply = client.request("GET", path, scopes=["registry:catalog:search"])
    if reply.status in _NO_SEARCH:
        return reply.status, registry_message(reply.status, reply.read(1 << 16))
    if reply.status != 200:
        raise error_for(reply, f"searching {client.endpoint.host}")
    doc = reply.json()
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        # an HTML page or some other API at that path: not a search we understand
        return reply.status, "not a search answer"
    return [SearchResult.from_json(r) for r in results[:limit]]


def _catalog_search(client: RegistryClient, query: str, limit: int) -> _Outcome:
    needle = query.lower()
    found: list[SearchResult] = []
    path: str | None = f"/v2/_catalog?n={CATALOG_PAGE}"
    pages = 0
    while path is not None and pages < MAX_CATALOG_PAGES and len(found) < limit:
        pages += 1
        reply = client.request("GET", path, scopes=["registry:catalog:*"])
        if reply.status in (401, 403, *_NO_SEARCH):
            return reply.status, registry_message(reply.status, reply.read(1 << 16))
        if reply.status != 200:
            raise error_for(reply, f"listing the catalog of {client.endpoint.host}")
        doc = reply.json()
        names = doc.get("repositories") if isinstance(doc, dict) else None
        if not isinstance(names, list):
            raise InvalidArgument(f"registry {client.endpoint.host}: malformed catalog answer")
        found += [SearchResult(n) for n in names if isinstance(n, str) and needle in n.lower()]
        path = _next_page(reply.header("link"))
    return found[:limit]


def _next_page(link: str | None) -> str | None:
    """The path of a ``Link: </v2/_catalog?n=&last=>; rel="next"`` header."""
    if not link or 'rel="next"' not in link or "<" not in link:
        return None
    target = link[link.index("<") + 1 : link.index(">")] if ">" in link else ""
    parts = urllib.parse.urlsplit(target)
    if not parts.path.startswith("/v2/_catalog"):
        return None  # never follow a link elsewhere with our credentials
    return parts.path + (f"?{parts.query}" if parts.query else "")


def filter_results(
    results: list[SearchResult], filters: dict[str, list[str]]
) -> list[SearchResult]:
    """Docker's search filters ``is-official``, ``is-automated`` (true/false), ``stars`` (min)."""
    for key in filters:
        if key not in ("is-official", "is-automated", "stars"):
            raise InvalidArgument(f"invalid filter '{key}'")
    out = results
    for key, attr in (("is-official", "is_official"), ("is-automated", "is_automated")):
        values = filters.get(key)
        if not values:
            continue
        if len(set(values)) != 1 or values[0] not in ("true", "false"):
            raise InvalidArgument(f"invalid filter '{key}={values}'")
        want = values[0] == "true"
        out = [r for r in out if getattr(r, attr) is want]
    stars = 0
    for value in filters.get("stars", []):
        try:
            stars = max(stars, int(value))
        except ValueError:
            raise InvalidArgument(f"invalid filter 'stars={value}'") from None
    return [r for r in out if r.star_count >= stars]


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SearchResult",
    "filter_results",
    "search",
    "split_term",
]
