"""Docker Hub's v1 search API, answered from the repository list.

``GET /v1/search?q=TERM&n=PAGE_SIZE&page=N`` answers::

    {"num_results": 3, "num_pages": 1, "page": 1, "page_size": 25, "query": "TERM",
     "results": [{"name": "team/app", "description": "", "star_count": 0,
                  "is_official": false, "is_automated": false}, ...]}

A repository matches when its name contains the term (case-insensitive; an
empty term matches all). We keep no descriptions, stars or official marks,
so those fields are constant. With auth on, only repositories the caller may
pull are listed; bad credentials are refused as on any route, and no
credentials mean anonymous (who sees what anonymous may pull). ``/v1/_ping``
answers ``{}`` so that clients probing for a v1 API find one.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from hull.registry.errors import RegistryError
from hull.registry.server import Reply, json_reply

if TYPE_CHECKING:
    from hull.api.http import Request
    from hull.registry.app import Registry

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_TERM = 255


def _number(req: Request, name: str, default: int, high: int) -> int:
    text = req.arg(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise RegistryError("UNSUPPORTED", {name: text[:50]}, status=400,
                            message=f"invalid {name}: expected an integer") from None  # fmt: skip
    if value < 1 or value > high:
        raise RegistryError("UNSUPPORTED", {name: value}, status=400,
                            message=f"{name} must be between 1 and {high}")  # fmt: skip
    return value


def _result(name: str) -> dict[str, Any]:
    return {"name": name, "description": "", "star_count": 0, "is_official": False,
            "is_automated": False}  # fmt: skip


async def search(reg: Registry, req: Request) -> Reply:
    """``GET /v1/search`` and ``GET /v1/_ping`` (see the module docstring)."""
    if req.method not in ("GET", "HEAD"):
        raise RegistryError("UNSUPPORTED", {"method": req.method}, message="method not allowed")
    if req.path == "/v1/_ping":
        return json_reply({})
    term = (req.arg("q") or "").strip()
    if len(term) > MAX_TERM:
        raise RegistryError("UNSUPPORTED", None, status=400, message="search term too long")
    size = _number(req, "n", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    page = _number(req, "page", 1, 1 << 30)
    realm = reg.realm(req)
    ident = None
    if reg.auth.enabled:
        ident = await asyncio.to_thread(reg.auth.identify, req.headers.get("Authorization"), realm)
    repos = await asyncio.to_thread(reg.storage.catalog)
    needle = term.lower()
    found = [r for r in repos if needle in r.lower()]
    if ident is not None:
        # a token's grants name other scopes (registry:catalog:search): judge by its user
        user = ident.user
        found = [r for r in found if reg.auth.config.allowed(user, "repository", r, "pull")]
    start = (page - 1) * size
    return json_reply(
        {
            "num_results": len(found),
            "num_pages": (len(found) + size - 1) // size,
            "page": page,
            "page_size": size,
            "query": term,
            "results": [_result(r) for r in found[start : start + size]],
        }
    )


__all__ = ["search"]
