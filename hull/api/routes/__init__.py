"""The API's routes, one module per endpoint; ``register`` puts them in a router.

Each module defines ``ROUTES``: (method, pattern) pairs served by its
``handle(request)``. No endpoint answers with made-up data: routes the
engine will serve are added with the engine.
"""

from __future__ import annotations

from importlib import import_module

from ..router import Router

MODULES = (
    "ping",
    "version",
    "info",
    "events",
    "images_list",
    "images_create",
    "images_load",
    "images_get",
    "images_prune",
    "images_inspect",
    "images_history",
    "images_tag",
    "images_delete",
    "images_push",
    "auth",
    "system_df",
)


def register(router: Router) -> Router:
    """Add every route of every module to ``router``."""
    for name in MODULES:
        mod = import_module(f"{__name__}.{name}")
        for method, pattern in mod.ROUTES:
            router.add(method, pattern, mod.handle)
    return router


__all__ = ["MODULES", "register"]
