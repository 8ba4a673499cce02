"""Routes: method + path pattern → handler, with Docker's optional version prefix.

Patterns name path segments: ``/containers/{id}/json``; ``{name:.*}``
matches across slashes (image names: ``/images/{name:.*}/json``).

Every path may start with ``/v1.NN``. The version must lie in
[``MIN_API_VERSION``, ``API_VERSION``]; a request without a prefix is served
as ``API_VERSION``. Out of range → 400 with dockerd's message.
A ``HEAD`` request with no HEAD route of its own is served by the GET route
(the server drops the body).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hull.errors import InvalidArgument, NotFound

from .http import AnyResponse, Request

API_VERSION = "1.43"
MIN_API_VERSION = "1.24"

Handler = Callable[[Request], Awaitable[AnyResponse]]

_VERSION_PREFIX = re.compile(r"^/v([0-9][0-9.]*)(/.*)$")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


class MethodNotAllowed(NotFound):
    """The path exists but not for this method (405)."""


def version_tuple(v: str) -> tuple[int, ...]:
    """``"1.43"`` → ``(1, 43)``; malformed → InvalidArgument."""
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        raise InvalidArgument(f"malformed API version: {v!r}") from None


def check_version(v: str) -> str:
    """``v`` if this server speaks it, else Docker's "too new"/"too old" error."""
    t = version_tuple(v)
    if t > version_tuple(API_VERSION):
        raise InvalidArgument(
            f"client version {v} is too new. Maximum supported API version is {API_VERSION}"
        )
    if t < version_tuple(MIN_API_VERSION):
        raise InvalidArgument(
            f"client version {v} is too old. Minimum supported API version is "
            f"{MIN_API_VERSION}, please upgrade your client to a newer version"
        )
    return v


def split_version(path: str) -> tuple[str, str]:
    """(API version, path without the prefix); the default version when absent."""
    m = _VERSION_PREFIX.match(path)
    if m is None:
        return API_VERSION, path
    return check_version(m.group(1)), m.group(2)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A route pattern as an anchored regex with named groups."""
    out = []
    pos = 0
    for m in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        rx = m.group(2) or "[^/]+"
        out.append(f"(?P<{m.group(1)}>{rx})")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "$")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    regex: re.Pattern[str]
    handler: Handler


class Router:
    """An ordered table of routes; the first match wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve ``method pattern`` with ``handler``."""
        self.routes.append(Route(method.upper(), pattern, compile_pattern(pattern), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator form of ``add``."""

        def deco(fn: Handler) -> Handler:
            self.add(method, pattern, fn)
            return fn

        return deco

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str], str]:
        """(handler, path parameters, API version) for a request.

        Unknown path → NotFound("page not found"); known path, other method →
        MethodNotAllowed; a version out of range → InvalidArgument.
        """
        version, bare = split_version(path)
        method = method.upper()
        path_matched = False
        fallback: tuple[Handler, dict[str, str]] | None = None
        for r in self.routes:
            m = r.regex.match(bare)
            if m is None:
                continue
            path_matched = True
            if r.method == method:
                return r.handler, m.groupdict(), version
            if method == "HEAD" and r.method == "GET" and fallback is None:
                fallback = (r.handler, m.groupdict())
        if fallback is not None:
            return fallback[0], fallback[1], version
        if path_matched:
            raise MethodNotAllowed("method not allowed")
        raise NotFound("page not found")


__all__ = [
    "API_VERSION",
    "MIN_API_VERSION",
    "Handler",
    "MethodNotAllowed",
    "Route",
    "Router",
    "check_version",
    "compile_pattern",
    "split_version",
    "version_tuple",
]
