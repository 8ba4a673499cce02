"""The daemon's event bus: what ``GET /events`` streams.

The engine calls ``EventBus.publish`` (from the event loop or any thread);
every ``stream()`` gets the events that match its filters. The last
``history`` events are kept so that ``since`` can replay them, as dockerd
keeps its last 256. A subscriber that falls ``max_backlog`` events behind
is dropped rather than let memory grow.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hull.errors import InvalidArgument

from .filters import Filters

EVENT_FILTERS = (
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
)


@dataclass(frozen=True)
class Event:
    """One event as Docker's ``events.Message``."""

    type: str
    action: str
    actor_id: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    time_nano: int = 0
    scope: str = "local"
    seq: int = 0

    def to_json(self) -> dict[str, Any]:
        """Docker's JSON, with the legacy ``status``/``id``/``from`` of container/image events."""
        out: dict[str, Any] = {}
        if self.type in ("container", "image"):
            out["status"] = self.action
            out["id"] = self.actor_id
            if self.type == "container" and "image" in self.attributes:
                out["from"] = self.attributes["image"]
        out.update(
            {
                "Type": self.type,
                "Action": self.action,
                "Actor": {"ID": self.actor_id, "Attributes": dict(self.attributes)},
                "scope": self.scope,
                "time": self.time_nano // 1_000_000_000,
                "timeNano": self.time_nano,
            }
        )
        return out


def _strip_tag(ref: str) -> str:
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def matches(ev: Event, f: Filters) -> bool:
    """moby's ``daemon/events/filter.go`` rules."""
    action = ev.action.split(":", 1)[0]  # "exec_start: sh -c ..." filters as exec_start
    name = ev.attributes.get("name", "")

    def by_name(kind: str) -> bool:
        return f.fuzzy(kind, ev.actor_id) or f.fuzzy(kind, name)

    image_name = ev.attributes.get("name" if ev.type == "image" else "image", "")
    image_ok = (
        f.exact("image", ev.actor_id)
        or f.exact("image", image_name)
        or f.exact("image", _strip_tag(ev.actor_id))
        or f.exact("image", _strip_tag(image_name))
    )
    return (
        f.exact("event", action)
        and f.exact("type", ev.type)
        and f.exact("scope", ev.scope)
        and all(
            by_name(k)
            for k in ("daemon", "container", "plugin", "volume", "network", "node", "service")
        )
        and all(by_name(k) for k in ("secret", "config"))
        and image_ok
        and f.labels("label", ev.attributes)
    )


def parse_timestamp(value: str | None, name: str) -> int | None:
    """``"SECONDS[.FRACTION]"`` as the Docker CLI sends it → nanoseconds."""
    if value is None or value == "":
        return None
    sec, _, frac = value.partition(".")
    try:
        s = int(sec)
        ns = int((frac + "000000000")[:9]) if frac else 0
    except ValueError:
        raise InvalidArgument(f"invalid value for {name}: {value!r}") from None
    return s * 1_000_000_000 + (ns if s >= 0 else -ns)


_CLOSED = object()


class _Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.backlog = 0


class EventBus:
    """Publish/subscribe of ``Event``s with a replay buffer."""

    def __init__(self, history: int = 256, max_backlog: int = 10000) -> None:
        self._history: collections.deque[Event] = collections.deque(maxlen=history)
        self._subs: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self._seq = 0
        self._max_backlog = max_backlog
        self._closed = False

    @property
    def listeners(self) -> int:
        """How many streams are open (``/info``'s NEventsListener)."""
        return len(self._subs)

    def publish(
        self,
        type: str,
        action: str,
        actor_id: str,
        attributes: Mapping[str, str] | None = None,
        *,
        scope: str = "local",
        time_nano: int | None = None,
    ) -> Event:
        """Record an event and hand it to every subscriber; safe from any thread."""
        with self._lock:
            self._seq += 1
            ev = Event(
                type,
                action,
                actor_id,
                dict(attributes or {}),
                time.time_ns() if time_nano is None else time_nano,
                scope,
                self._seq,
            )
            self._history.append(ev)
            subs = list(self._subs)
        for sub in subs:
            self._deliver(sub, ev)
        return ev

    def _deliver(self, sub: _Subscriber, item: object) -> None:
        sub.backlog += 1
        if sub.backlog > self._max_backlog:
            item = _CLOSED  # too slow: end its stream
            with self._lock:
                self._subs.discard(sub)
        try:
            sub.loop.call_soon_threadsafe(sub.queue.put_nowait, item)
        except RuntimeError:  # its loop is closed
            with self._lock:
                self._subs.discard(sub)

    def close(self) -> None:
        """End every open stream (daemon shutdown)."""
        with self._lock:
            self._closed = True
            subs = list(self._subs)
            self._subs.clear()
        for sub in subs:
            self._deliver(sub, _CLOSED)

    async def stream(
        self, since: int | None = None, until: int | None = None, filters: Filters | None = None
    ) -> AsyncGenerator[Event, None]:
        """Matching events: replayed from ``since`` (ns), then live until ``until`` (ns)."""
        f = filters or Filters()
        sub = _Subscriber(asyncio.get_running_loop())
        with self._lock:
            if self._closed:
                return
            self._subs.add(sub)
            replay = list(self._history) if since is not None else []
            last_seq = self._seq
        try:
            for ev in replay:
                late = until is not None and ev.time_nano > until
                in_window = ev.time_nano >= (since or 0) and not late
                if in_window and matches(ev, f):
                    yield ev
            if until is not None and until <= time.time_ns():
                return
            while True:
                timeout = None if until is None else (until - time.time_ns()) / 1e9
                if timeout is not None and timeout <= 0:
                    return
                try:
                    item = await asyncio.wait_for(sub.queue.get(), timeout)
                except TimeoutError:
                    return
                sub.backlog -= 1
                if item is _CLOSED:
                    return
                assert isinstance(item, Event)
                if item.seq <= last_seq:
                    continue
                if until is not None and item.time_nano > until:
                    return
                if matches(item, f):
                    yield item
        finally:
            with self._lock:
                self._subs.discard(sub)


__all__ = ["EVENT_FILTERS", "Event", "EventBus", "matches", "parse_timestamp"]
