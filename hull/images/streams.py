"""Stream adapters for storing layers in one pass: a prefix put back, a tee, a hasher, a sink.

``ImageService.add_layer`` sniffs a layer's compression from its first bytes
(``Prefixed`` puts them back), stores the compressed bytes while they are
decompressed (``Tee`` into a content writer, or ``BlobSink``), and hashes
what flows (``Hasher``). Each passes ``readinto`` straight through where it
can, so a layer's bytes are not copied by Python on their way.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, BinaryIO, cast

from hull.oci.digest import Digester

CHUNK = 1 << 20


class Prefixed(io.RawIOBase):
    """``prefix`` then the rest of ``raw`` (a stream whose first bytes were peeked)."""

    def __init__(self, prefix: bytes, raw: BinaryIO) -> None:
        self._prefix = prefix
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            n = len(self._prefix) if size < 0 else size
            out, self._prefix = self._prefix[:n], self._prefix[n:]
            return out
        return self._raw.read(size)

    def readinto(self, b: Any) -> int:
        readinto = getattr(self._raw, "readinto", None)
        if self._prefix or readinto is None:
            data = self.read(len(b))
            b[: len(data)] = data
            return len(data)
        n: int = readinto(b) or 0  # straight into the reader's buffer: no copy here
        return n


class Tee(io.RawIOBase):
    """Reads ``raw``; every byte read also goes to ``sink`` and (``hashing``) a digester."""

    def __init__(
        self, raw: BinaryIO, sink: Callable[[bytes], object], *, hashing: bool = True
    ) -> None:
        self._raw = raw
        self._sink = sink
        self.digester = Digester()
        self.hashing = hashing
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(CHUNK if size is None or size < 0 else size)
        if data:
            self._sink(data)
            self.count += len(data)
            if self.hashing:
                self.digester.update(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class Hasher(io.RawIOBase):
    """Counts (and, when ``hashing``, hashes) what is read through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.digester = Digester()
        self.count = 0
        self.hashing = True

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(CHUNK if size is None or size < 0 else size)
        self.count += len(data)
        if self.hashing and data:
            self.digester.update(data)
        return data

    def readinto(self, b: Any) -> int:
        readinto = getattr(self._raw, "readinto", None)
        if readinto is None:
            data = self.read(len(b))
            b[: len(data)] = data
            return len(data)
        n: int = readinto(b) or 0
        self.count += n
        if self.hashing and n:
            self.digester.update(memoryview(b)[:n])
        return n

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def as_stream(obj: io.RawIOBase) -> BinaryIO:
    return cast("BinaryIO", obj)


class BlobSink(io.RawIOBase):
    """A writable stream into a content writer, hashing what it stores."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.digester = Digester()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self._writer.write(b)
        self.digester.update(b)
        return len(b)

    def stream(self) -> BinaryIO:
        return cast("BinaryIO", self)


__all__ = ["CHUNK", "BlobSink", "Hasher", "Prefixed", "Tee", "as_stream"]
