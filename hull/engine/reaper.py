"""Deleting a removed container's files off the request path.

Once its record is gone from the database a container is removed as far as
anyone can see; its snapshot, log directory and bundle are then only disk
space, and deleting trees is the slowest part of a removal (``run --rm``
waits for it). One worker thread deletes them in order; ``settle`` waits for
it, and a daemon start sweeps what a crash left behind (``sweep``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

from hull.errors import HullError
from hull.snapshots.base import Kind

if TYPE_CHECKING:
    from hull.snapshots import Snapshotter

_ID = re.compile(r"[0-9a-f]{64}")


def _log(msg: str) -> None:
    import sys

    sys.stderr.write(f"hulld: {msg}\n")


class Reaper:
    """A queue of deletions run by one background thread (started on first use)."""

    def __init__(self) -> None:
        self._q: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="reaper", daemon=True)
                self._thread.start()
        self._q.put(job)

    def settle(self) -> None:
        """Wait until every deletion submitted so far is done."""
        if self._thread is not None:
            self._q.join()

    def close(self) -> None:
        """Finish the queue, then stop the thread."""
        with self._lock:
            t, self._thread = self._thread, None
        if t is not None:
            self._q.put(None)
            t.join()

    def _run(self) -> None:
        while True:
            job = self._q.get()
            try:
                if job is None:
                    return
                job()
            except Exception as exc:  # a failed deletion must not stop the next ones
                _log(f"background removal: {exc!r}")
            finally:
                self._q.task_done()


def remove_files(snapshots: Snapshotter, key: str, *dirs: Path) -> None:
    """A removed container's snapshot and directories (each may already be gone)."""
    with contextlib.suppress(HullError):
        snapshots.remove(key)
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def sweep(snapshots: Snapshotter, known: Collection[str], *parents: Path) -> list[str]:
    """Remove what removed containers left (a crash before the reaper ran); their ids."""
    gone: set[str] = set()
    for info in snapshots.list():
        if info.kind is Kind.ACTIVE and _ID.fullmatch(info.name) and info.name not in known:
            with contextlib.suppress(HullError, OSError):
                snapshots.remove(info.name)
                gone.add(info.name)
    for parent in parents:
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(parent):
                if _ID.fullmatch(entry.name) and entry.name not in known:
                    if os.path.ismount(os.path.join(entry.path, "rootfs")):
                        continue  # still mounted: not ours to judge here
                    shutil.rmtree(entry.path, ignore_errors=True)
                    gone.add(entry.name)
    return sorted(gone)
