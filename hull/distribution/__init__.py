"""The registry client: pull, push and login against OCI distribution registries.

``pull`` and ``push`` work on an ``ImageService`` (never on the image database
directly) and report Docker's progress events through a callback;
``RegistrySettings`` says how registries are reached (plain HTTP, mirrors, a
default registry); ``search`` finds repositories (``/v1/search``, else the catalog);
``credentials`` reads and writes the docker CLI's
``config.json``; ``transport.RegistryClient`` is the HTTP client under them.
"""

from hull.distribution.credentials import (
    AuthConfig,
    config_path,
    erase_credentials,
    load_credentials,
    store_credentials,
)
from hull.distribution.login import validate_login
from hull.distribution.progress import Progress, human_size, message, progress_bar
from hull.distribution.pull import Puller, PullResult, ingest_ref, pull
from hull.distribution.push import Pusher, PushResult, push
from hull.distribution.search import SearchResult, filter_results, search
from hull.distribution.settings import Endpoint, RegistrySettings
from hull.distribution.transport import RegistryClient

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
    "pull",
    "push",
    "search",
    "store_credentials",
    "validate_login",
]
