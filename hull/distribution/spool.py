"""A layer's download shared with its unpacker: the spool, and reading it as it grows.

``Spool`` is one blob on its way: a downloading thread appends its bytes to
the blob's ingest (``pull-<digest>``, kept for a resume; hashed as they are
written) and publishes how many are on disk; ``SpoolReader`` is the stream
the unpacking thread reads, waiting for more until the download is done or
has failed. The unpacker then commits that ingest as the blob: the bytes
are written once and hashed once.
"""

from __future__ import annotations

import io
import os
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

from hull.errors import InvalidArgument

if TYPE_CHECKING:
    from pathlib import Path

    from hull.oci.image_spec import Descriptor

# network reads and spool reads: big enough that per-call costs vanish
READ_CHUNK = 4 << 20
# one network read, hashed and written while it is still in the CPU cache
RECV_CHUNK = 1 << 20


class NetworkCut(Exception):
    """The download stopped early (reset, timeout, short body): resumable."""


class Abandoned(Exception):
    """The pull stopped (another layer failed) while this one was being read."""


class Spool:
    """One layer's download: the ingest its bytes land in, shared with the unpacker.

    The downloading thread appends to the ingest (which hashes them) and
    publishes how much is on disk; the unpacking thread reads the file
    behind it, waiting for more, and commits the ingest at the end.
    """

    def __init__(self, desc: Descriptor, data: Path) -> None:
        self.desc = desc
        self.data = data
        self.cond = threading.Condition()
        self.writer: Any = None
        self.size = -1  # bytes the reader may read; -1: not yet known
        self.done = False
        self.existing = False  # the blob is in the content store: nothing to download
        self.error: BaseException | None = None
        self.cancelled = False
        self.received = 0

    def publish(self, size: int, *, done: bool = False) -> None:
        with self.cond:
            self.size = size
            self.done = self.done or done
            self.cond.notify_all()

    def fail(self, exc: BaseException) -> None:
        with self.cond:
            self.error = exc
            self.cond.notify_all()

    def abandon(self) -> None:
        """The pull is over (done or failed): stop the download and any reader waiting."""
        with self.cond:
            self.cancelled = True
            self.cond.notify_all()

    def wait(self, pos: int) -> int:
        """Bytes readable past ``pos`` (0: the end); raises the download's error."""
        with self.cond:
            while True:
                if self.cancelled:
                    raise Abandoned("the pull stopped before this layer was read")
                if self.size > pos:
                    return self.size - pos
                if self.error is not None:
                    raise self.error
                if self.done and self.size >= 0:
                    return 0
                self.cond.wait()

    def wait_open(self) -> None:
        """Until the ingest is open (or the blob turned out to exist)."""
        with self.cond:
            while self.size < 0 and self.error is None and not self.existing:
                if self.cancelled:
                    raise Abandoned("the pull stopped before this layer was read")
                self.cond.wait()
            if self.error is not None and self.size < 0:
                raise self.error


class SpoolReader(io.RawIOBase):
    """The bytes of a spool as they arrive (see ``Spool``)."""

    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        self._f: BinaryIO | None = None
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self._spool.wait(self._pos)
        if n == 0:
            return b""
        if self._f is None:
            self._f = open(self._spool.data, "rb", buffering=0)  # noqa: SIM115
        want = READ_CHUNK if size is None or size < 0 else size
        data = os.pread(self._f.fileno(), min(n, want, READ_CHUNK), self._pos)
        if not data:
            raise InvalidArgument("the downloaded blob is shorter than recorded")
        self._pos += len(data)
        return data

    def readinto(self, b: Any) -> int:
        n = self._spool.wait(self._pos)
        if n == 0:
            return 0
        if self._f is None:
            self._f = open(self._spool.data, "rb", buffering=0)  # noqa: SIM115
        view = memoryview(b).cast("B")
        want = min(n, len(view), READ_CHUNK)
        got = os.preadv(self._f.fileno(), [view[:want]], self._pos)  # no copy of our own
        if not got:
            raise InvalidArgument("the downloaded blob is shorter than recorded")
        self._pos += got
        return got

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        super().close()


__all__ = ["READ_CHUNK", "RECV_CHUNK", "Abandoned", "NetworkCut", "Spool", "SpoolReader"]
