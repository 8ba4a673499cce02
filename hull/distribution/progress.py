"""Progress events in the shape of Docker's JSON-lines streams (``jsonmessage``).

A pull or push reports through a ``Progress`` callback, one dict per event::

    {"status": "Downloading", "progressDetail": {"current": 1, "total": 2},
     "progress": "[=====>   ]  1B/2B", "id": "a3ed95caeb02"}

``progress`` is the bar the daemon renders (``JSONProgress.String`` at its
200-column width); the CLI draws bars of its own from ``progressDetail``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

Progress = Callable[[dict[str, Any]], None]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_size(n: float) -> str:
    """go-units' ``HumanSize``: decimal units, 4 significant digits (``1.049MB``)."""
    i = 0
    while n >= 1000 and i < len(_UNITS) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.4g}{_UNITS[i]}"


def progress_bar(current: int, total: int, width: int = 200) -> str:
    """``JSONProgress.String``: ``[====>    ]  1.2MB/3.4MB`` (just the size without a total)."""
    if total <= 0:
        return f"{human_size(current):>8}"
    percentage = min(int(current / total * 100) // 2, 50)
    box = ""
    if width > 110:
        box = f"[{'=' * percentage}>{' ' * (50 - percentage)}] "
    return f"{box}{human_size(current):>8}/{human_size(total)}"


def message(
    status: str,
    id: str | None = None,
    current: int | None = None,
    total: int | None = None,
) -> dict[str, Any]:
    """One event; ``current``/``total`` add ``progressDetail`` and the bar."""
    out: dict[str, Any] = {"status": status}
    if current is not None:
        out["progressDetail"] = {"current": current, "total": total or 0}
        out["progress"] = progress_bar(current, total or 0)
    elif id is not None:
        out["progressDetail"] = {}
    if id is not None:
        out["id"] = id
    return out


def short(digest: object) -> str:
    """The 12 hex digits of a digest that progress lines show."""
    text = str(digest)
    return text.partition(":")[2][:12] if ":" in text else text[:12]


class Throttle:
    """At most one ``Downloading``/``Pushing`` event per ``interval`` per id (and the last)."""

    def __init__(self, sink: Progress, interval: float = 0.1) -> None:
        self._sink = sink
        self._interval = interval
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        self._sink(event)

    def bytes(self, status: str, id: str, current: int, total: int) -> None:
        now = time.monotonic()
        with self._lock:
            if current < total and now - self._last.get(id, 0.0) < self._interval:
                return
            self._last[id] = now
        self._sink(message(status, id, current, total))


class Locked:
    """A callback made safe to call from several transfer threads."""

    def __init__(self, sink: Progress) -> None:
        self._sink = sink
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._sink(event)


_STOP: dict[str, Any] = {}


class Pumped:
    """A callback whose events a thread of its own hands to ``sink``, in order.

    A sink may be slow (the API's waits for its event loop to take each
    event): transfer threads that called it directly waited on it, one
    behind the other. They only queue now. An error of the sink (the client
    went away) is raised by the next call, from whichever thread, and by
    ``close``, which delivers what is queued first.
    """

    def __init__(self, sink: Progress) -> None:
        self._sink = sink
        self._q: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        if self._error is not None:
            raise self._error
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hull-progress",
                                                daemon=True)  # fmt: skip
                self._thread.start()
            self._q.put(event)

    def _run(self) -> None:
        while (event := self._q.get()) is not _STOP:
            if self._error is None:
                try:
                    self._sink(event)
                except BaseException as exc:
                    self._error = exc  # later events are dropped

    def close(self) -> None:
        """Wait until every queued event is delivered; raise the sink's error, if any."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._q.put(_STOP)
        if thread is not None:
            thread.join()
        if self._error is not None:
            raise self._error


__all__ = [
    "Locked",
    "Progress",
    "Pumped",
    "Throttle",
    "human_size",
    "message",
    "progress_bar",
    "short",
]
