"""Digesters for layer bytes: one that hashes behind its writer, one for two streams.

``PairHasher`` hashes two sha256 streams at once (a layer's blob and the
tar inside it): with the CPU's SHA extensions their blocks go through the
rounds in lockstep (``hull.content._sha256``), ~1.8x the throughput of
hashing them one after the other; without them it is two ``hashlib``
objects.

``HashBehind`` hashes in a thread of its own, behind the writer that feeds it.

A layer's bytes are hashed several times on their way (the blob's digest,
the uncompressed diff ID) while one thread also inflates and stores them.
``hashlib`` releases the GIL on large buffers, so handing big chunks to a
second thread lets another core do the hashing: ``update`` only queues the
chunk (immutable ``bytes``; other buffers are copied, since their owner
may reuse them), and ``digest``/``size`` wait for the queue to drain.
Small chunks are hashed inline when no thread runs yet, and so is every
chunk with ``threaded=False``: a caller that already runs several pipelines
at once (a pull's downloads) gains nothing from another thread, and hashing
a chunk just received, still in the CPU cache, costs least.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any

from hull.oci.digest import Digest, Digester

try:
    import hull.content._sha256 as _sha256

    _PAIRED = bool(_sha256.ACCELERATED)
except ImportError:  # pragma: no cover - the extension is part of every build
    _PAIRED = False

# below this a chunk is cheaper to hash than to hand over
THREAD_MIN = 256 * 1024
_QUEUE = 8


class HashBehind:
    """``Digester``'s interface; large updates are hashed by a helper thread."""

    def __init__(self, algorithm: str = "sha256", *, threaded: bool = True) -> None:
        self._d = Digester(algorithm)
        self.algorithm = algorithm
        self.threaded = threaded
        self._q: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        self._size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed the next chunk (hashed now or by the helper, in order)."""
        self._size += len(data)
        if self._q is None:
            if len(data) < THREAD_MIN or not self.threaded:
                self._d.update(data)
                return
            self._q = queue.Queue(_QUEUE)
            self._thread = threading.Thread(target=self._run, name="hull-hash", daemon=True)
            self._thread.start()
        self._q.put(data if isinstance(data, bytes) else bytes(data))

    def _run(self) -> None:
        assert self._q is not None
        while (chunk := self._q.get()) is not None:
            self._d.update(chunk)

    def _sync(self) -> None:
        if self._q is not None and self._thread is not None:
            self._q.put(None)
            self._thread.join()
            self._q, self._thread = None, None

    @property
    def size(self) -> int:
        """Bytes fed so far."""
        return self._size

    def digest(self) -> Digest:
        """The digest of everything fed so far (waits for the helper)."""
        self._sync()
        return self._d.digest()

    def close(self) -> None:
        """Stop the helper (the digest so far stays readable)."""
        self._sync()


Buffer = bytes | bytearray | memoryview


class PairHasher:
    """Two sha256 streams, ``a`` and ``b``, fed side by side; see the module doc.

    Not for use by two threads at once (``_sha256`` refuses that).
    """

    __slots__ = ("_a", "_b", "_pair")

    def __init__(self) -> None:
        self._a: Any
        self._b: Any
        self._pair: Any
        if _PAIRED:
            self._a, self._b = _sha256.Sha256(), _sha256.Sha256()
            self._pair = _sha256.update_pair
        else:
            self._a, self._b = hashlib.sha256(), hashlib.sha256()
            self._pair = None

    def update(self, a: Buffer, b: Buffer) -> None:
        """Feed the next bytes of both streams (of any lengths)."""
        if self._pair is not None:
            self._pair(self._a, a, self._b, b)
        else:
            self._a.update(a)
            self._b.update(b)

    def update_a(self, data: Buffer) -> None:
        """Feed stream ``a`` alone."""
        self._a.update(data)

    def update_b(self, data: Buffer) -> None:
        """Feed stream ``b`` alone."""
        self._b.update(data)

    def digest_a(self) -> Digest:
        """The sha256 of stream ``a`` so far."""
        return Digest("sha256", self._a.hexdigest())

    def digest_b(self) -> Digest:
        """The sha256 of stream ``b`` so far."""
        return Digest("sha256", self._b.hexdigest())


__all__ = ["HashBehind", "PairHasher"]
