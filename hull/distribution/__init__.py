"""The registry client: pull, push and login against OCI distribution registries.

``pull.pull`` and ``push.push`` work on an ``ImageService`` (never on the image database
directly) and report Docker's progress events through a callback;
``RegistrySettings`` says how registries are reached (plain HTTP, mirrors, a
default registry); ``search.search`` finds repositories (``/v1/search``, else the catalog);
``credentials`` reads and writes the docker CLI's
``config.json``; ``transport.RegistryClient`` is the HTTP client under them.

The package imports a submodule only when one of its names is first used
(:mod:`hull._lazy`): the CLI needs the credentials, not the HTTP client
(importing every submodule cost ``hull pull`` ~24 ms). ``pull``, ``push``
and ``search`` are the submodules' names, so their functions are imported
from the submodules.
"""

from hull._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.distribution.credentials import (
        AuthConfig,
        config_path,
        erase_credentials,
        load_credentials,
        store_credentials,
    )
    from hull.distribution.login import validate_login
    from hull.distribution.progress import Progress, human_size, message, progress_bar
    from hull.distribution.pull import Puller, PullResult, ingest_ref
    from hull.distribution.push import Pusher, PushResult
    from hull.distribution.search import SearchResult, filter_results
    from hull.distribution.settings import Endpoint, RegistrySettings
    from hull.distribution.transport import RegistryClient

# public name -> the submodule that defines it
_WHERE = {
    "AuthConfig": "credentials",
    "config_path": "credentials",
    "erase_credentials": "credentials",
    "load_credentials": "credentials",
    "store_credentials": "credentials",
    "validate_login": "login",
    "Progress": "progress",
    "human_size": "progress",
    "message": "progress",
    "progress_bar": "progress",
    "Puller": "pull",
    "PullResult": "pull",
    "ingest_ref": "pull",
    "Pusher": "push",
    "PushResult": "push",
    "SearchResult": "search",
    "filter_results": "search",
    "Endpoint": "settings",
    "RegistrySettings": "settings",
    "RegistryClient": "transport",
}

__all__ = [
    "AuthConfig",
    "Endpoint",
    "Progress",
    "PullResult",
    "Puller",
    "PushResult",
    "Pusher",
    "RegistryClient",
    "RegistrySettings",
    "SearchResult",
    "config_path",
    "erase_credentials",
    "filter_results",
    "human_size",
    "ingest_ref",
    "load_credentials",
    "message",
    "progress_bar",
    "store_credentials",
    "validate_login",
]


__getattr__ = lazy_exports(__name__, _WHERE, globals())
