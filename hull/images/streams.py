"""Stream adapters for storing layers in one pass: a prefix put back, a tee, a decoder, a sink.

``ImageService.add_layer`` sniffs a layer's compression from its first bytes
(``Prefixed`` puts them back), stores the compressed bytes while they are
decompressed (``Tee`` into a content writer, or ``BlobSink``), and hashes
the blob and its tar together on the way (``LayerDecoder``). Each passes
``readinto`` straight through where it can, so a layer's bytes are not
copied by Python on their way.
"""

from __future__ import annotations

import collections
import io
from collections.abc import Callable
from typing import Any, BinaryIO, cast

from hull.archive.compression import Compression, decompress_stream
from hull.content.hashing import PairHasher
from hull.oci.digest import Digest, Digester

CHUNK = 1 << 20
# tar held back for pairing with the compressed bytes read next; past this
# (a stream that inflates a lot) the oldest is hashed alone
_PENDING_MAX = 8 << 20


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


class _Recorder(io.RawIOBase):
    """Reads ``raw`` for the decompressor, showing ``LayerDecoder`` each chunk read."""

    def __init__(self, raw: BinaryIO, owner: LayerDecoder) -> None:
        self._raw = raw
        self._owner = owner

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(CHUNK if size is None or size < 0 else size)
        if data:
            self._owner._took(memoryview(data))
        return data

    def readinto(self, b: Any) -> int:
        readinto = getattr(self._raw, "readinto", None)
        if readinto is None:
            data = self.read(len(b))
            b[: len(data)] = data
            return len(data)
        n: int = readinto(b) or 0
        if n:
            self._owner._took(memoryview(b)[:n])
        return n


class LayerDecoder(io.RawIOBase):
    """A layer blob read from ``raw``, handed out as its tar; both are hashed on the way.

    The blob's digest and the tar's (the diff ID) are computed together by
    ``PairHasher``. The tar comes out of the decompressor as new ``bytes``,
    which are kept (not copied) until the decompressor reads its next
    compressed chunk into its buffer; the two are then hashed side by side,
    before that buffer is reused. Uncompressed, the blob is the tar and is
    hashed once. ``finish`` reads (and hashes) whatever follows the
    compressed stream in ``raw``, so ``blob_digest`` covers all of it.
    """

    def __init__(self, raw: BinaryIO, compression: Compression) -> None:
        self._pair = PairHasher()
        self._plain_only = compression == "none"
        self._raw = raw
        self._pending: collections.deque[memoryview] = collections.deque()
        self._pending_size = 0
        self.blob_size = 0
        self.diff_size = 0
        self._plain = raw
        if not self._plain_only:
            self._plain = decompress_stream(as_stream(_Recorder(raw, self)), compression)

    def readable(self) -> bool:
        return True

    def _took(self, a: memoryview) -> None:
        # a compressed chunk, valid only during this call: hash it now, with tar held back
        self.blob_size += len(a)
        pos, end = 0, len(a)
        pending = self._pending
        while pos < end and pending:
            b = pending[0]
            n = min(len(b), end - pos)
            self._pair.update(a[pos : pos + n], b[:n])
            pos += n
            self._pending_size -= n
            if n == len(b):
                pending.popleft()
            else:
                pending[0] = b[n:]
        if pos < end:
            self._pair.update_a(a[pos:])

    def _flush(self) -> None:
        while self._pending:
            self._pair.update_b(self._pending.popleft())
        self._pending_size = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._plain.read(CHUNK if size is None or size < 0 else size)
        if data:
            self.diff_size += len(data)
            if self._plain_only:
                self.blob_size += len(data)
                self._pair.update_b(data)
            else:
                self._pending.append(memoryview(data))
                self._pending_size += len(data)
                while self._pending_size > _PENDING_MAX:  # a stream that inflates a lot
                    b = self._pending.popleft()
                    self._pending_size -= len(b)
                    self._pair.update_b(b)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read the tar to its end (the codec checks its trailer)."""
        while self.read(CHUNK):
            pass

    def finish(self) -> None:
        """Hash the bytes after the compressed stream (read to ``raw``'s end)."""
        self._flush()
        if self._plain_only:
            return
        while data := self._raw.read(CHUNK):
            self.blob_size += len(data)
            self._pair.update_a(data)

    def blob_digest(self) -> Digest:
        """The sha256 of the blob (after ``finish``)."""
        return self._pair.digest_b() if self._plain_only else self._pair.digest_a()

    def diff_digest(self) -> tuple[Digest, int]:
        """The diff ID and size of the tar read so far."""
        self._flush()
        return self._pair.digest_b(), self.diff_size


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


__all__ = ["CHUNK", "BlobSink", "LayerDecoder", "Prefixed", "Tee", "as_stream"]
