"""The Docker Engine API server (``hulld``): HTTP on a unix socket, routes, streams.

daemon.py   Config, Daemon (start/stop), ``hulld`` main
server.py   listeners, connections, keep-alive, dispatch, hijack
http.py     request parsing (limits, chunked bodies), response types
router.py   path patterns, the ``/v1.NN`` prefix and version checks
errors.py   HullError kind → HTTP status, Docker's ``{"message": ...}``
events.py   the event bus behind ``GET /events``
filters.py  Docker's ``filters`` parameter
stdcopy.py  the multiplexed stream framing of attach/exec/logs
routes/     one module per endpoint
"""

from __future__ import annotations

from hull._lazy import lazy_exports

# The CLI imports stdcopy.py from here: no typing (~2.4 ms) or importlib at
# runtime on that path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .app import App, Counts, Inventory
    from .config import DEFAULT_HOST, Config
    from .daemon import Daemon, PidFile
    from .errors import error_response, not_modified, response_for, status_for
    from .events import Event, EventBus
    from .filters import Filters
    from .http import (
        HijackResponse,
        HTTPError,
        Limits,
        Request,
        Response,
        StreamResponse,
        empty_response,
        json_lines,
        json_response,
    )
    from .router import API_VERSION, MIN_API_VERSION, Router
    from .server import Server

# exported names → their module; imported on first use (PEP 562) so that
# ``hull.api.stdcopy`` or ``hull.api.sysinfo`` alone do not pull in asyncio
_EXPORTS = {
    "API_VERSION": "router",
    "App": "app",
    "Config": "config",
    "Counts": "app",
    "DEFAULT_HOST": "config",
    "Daemon": "daemon",
    "Event": "events",
    "EventBus": "events",
    "Filters": "filters",
    "HTTPError": "http",
    "HijackResponse": "http",
    "Inventory": "app",
    "Limits": "http",
    "MIN_API_VERSION": "router",
    "PidFile": "daemon",
    "Request": "http",
    "Response": "http",
    "Router": "router",
    "Server": "server",
    "StreamResponse": "http",
    "empty_response": "http",
    "error_response": "errors",
    "json_lines": "http",
    "json_response": "http",
    "not_modified": "errors",
    "response_for": "errors",
    "status_for": "errors",
}


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "API_VERSION",
    "DEFAULT_HOST",
    "MIN_API_VERSION",
    "App",
    "Config",
    "Counts",
    "Daemon",
    "Event",
    "EventBus",
    "Filters",
    "HTTPError",
    "HijackResponse",
    "Inventory",
    "Limits",
    "PidFile",
    "Request",
    "Response",
    "Router",
    "Server",
    "StreamResponse",
    "empty_response",
    "error_response",
    "json_lines",
    "json_response",
    "not_modified",
    "response_for",
    "status_for",
]
