"""Progress plumbing: events reach a slow sink in order, and its error reaches the pull."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from hull.distribution.progress import Pumped, message


def test_pumped_keeps_order_and_does_not_wait_for_the_sink() -> None:
    got: list[dict[str, Any]] = []

    def slow(event: dict[str, Any]) -> None:
        time.sleep(0.05)  # 20 events: 1 s if the callers waited for it
        got.append(event)

    pump = Pumped(slow)
    t = time.monotonic()
    events = [message("Downloading", "a", i, 20) for i in range(20)]
    threads = [threading.Thread(target=pump, args=(e,)) for e in events[:10]]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for e in events[10:]:
        pump(e)
    assert time.monotonic() - t < 0.5  # the callers only queued
    pump.close()  # delivers everything first
    assert len(got) == 20
    assert got[10:] == events[10:]  # one caller's events keep their order


def test_pumped_hands_the_sink_error_to_the_next_caller_and_to_close() -> None:
    class Gone(Exception):
        pass

    def sink(event: dict[str, Any]) -> None:
        raise Gone("the client went away")

    pump = Pumped(sink)
    pump(message("first"))
    deadline = time.monotonic() + 5
    with pytest.raises(Gone):
        while time.monotonic() < deadline:
            pump(message("more"))
            time.sleep(0.001)
    with pytest.raises(Gone):
        pump.close()
