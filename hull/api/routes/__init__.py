"""The API's routes, one module per endpoint; ``register`` puts them in a router.

Each module defines ``ROUTES``: (method, pattern) pairs served by its
``handle(request)``. No endpoint answers with made-up data: routes the
engine will serve are added with the engine. Modules named ``*_common``
hold what a family of routes shares and serve nothing.
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
    "images_search",
    "build",
    "auth",
    "system_df",
    "containers_create",
    "containers_list",
    "containers_inspect",
    "containers_start",
    "containers_stop",
    "containers_restart",
    "containers_kill",
    "containers_pause",
    "containers_unpause",
    "containers_wait",
    "containers_delete",
    "containers_rename",
    "containers_logs",
    "containers_attach",
    "containers_resize",
    "containers_top",
    "containers_stats",
    "containers_changes",
    "containers_export",
    "containers_archive",
    "containers_prune",
    "containers_commit",
    "containers_update",
    "exec_create",
    "exec_start",
    "exec_resize",
    "exec_inspect",
    "volumes_list",
    "volumes_create",
    "volumes_inspect",
    "volumes_delete",
    "volumes_prune",
    "networks_list",
    "networks_create",
    "networks_prune",
    "networks_inspect",
    "networks_delete",
    "networks_connect",
    "networks_disconnect",
    "system_reset",
)


def register(router: Router) -> Router:
    """Add every route of every module to ``router``."""
    for name in MODULES:
        mod = import_module(f"{__name__}.{name}")
        for method, pattern in mod.ROUTES:
            router.add(method, pattern, mod.handle)
    return router


__all__ = ["MODULES", "register"]
