"""The container monitor: one process per data root owning every running container.

Docker runs a containerd-shim per container (~13 MB RSS each); hull runs one
monitor that holds every container's stdio, writes their json-file logs,
reaps them as a child subreaper and records their exit status, and survives
restarts of hulld. hulld talks to it over ``<exec-root>/monitor/monitor.sock``.

* ``protocol``: the JSON-lines wire protocol and its typed requests.
* ``server`` / ``ops`` / ``procs``: the single-threaded event loop, the ops
  driving the OCI runtime, and the tracked processes and connections.
* ``logs``: Docker's json-file log writer (16 KiB partial entries, rotation)
  and reader (tail, since/until, follow).
* ``client``: :class:`MonitorClient` and :func:`ensure_monitor`, for hulld.
* ``__main__``: ``python -m hull.engine.monitor --state-dir DIR``.
"""

from __future__ import annotations

from hull._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.monitor.client import MonitorClient, ensure_monitor
    from hull.engine.monitor.logs import JsonFileWriter, LogEntry, read_logs

_LAZY = {
    "MonitorClient": "client",
    "ensure_monitor": "client",
    "JsonFileWriter": "logs",
    "LogEntry": "logs",
    "read_logs": "logs",
}


# lazy: the monitor process itself (python -m) must not pay for the client
__getattr__ = lazy_exports(__name__, _LAZY, globals())


__all__ = ["JsonFileWriter", "LogEntry", "MonitorClient", "ensure_monitor", "read_logs"]
