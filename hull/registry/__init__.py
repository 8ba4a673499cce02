"""The registry server: OCI distribution-spec v1.1 over a shared content store.

``serve()`` runs it (``python -m hull.registry serve``); ``Registry`` is the
application (routes in ``app``, ``blobs``, ``manifests``), ``RegistryStorage``
its storage, ``collect_garbage`` the online mark-and-sweep.
"""

from hull.registry.app import Registry, RegistryConfig
from hull.registry.errors import RegistryError
from hull.registry.gc import GCResult, collect_garbage
from hull.registry.main import serve, start
from hull.registry.storage import RegistryStorage

__all__ = [
    "GCResult",
    "Registry",
    "RegistryConfig",
    "RegistryError",
    "RegistryStorage",
    "collect_garbage",
    "serve",
    "start",
]
