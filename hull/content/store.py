"""The content store's vocabulary: the ``ContentStore`` and ``Writer`` protocols.

A content store holds immutable blobs addressed by their ``Digest``. Blobs
enter only through an *ingest*: a ``Writer`` opened under a caller-chosen
*ref* (e.g. ``"pull-layer-sha256:ab…"``) appends bytes, then ``commit()``
verifies the digest and size and atomically makes the blob visible.

Lifecycle of an ingest::

    writer(ref) ──write()*──► commit() ──► blob visible, ingest gone
        │   ▲                    │
        │   └─ crash / close ────┤ (partial data kept under the ref;
        │      reopen same ref   │  reopening resumes at ``offset``)
        │                        └─ digest/size mismatch: InvalidArgument,
        │                           ingest discarded
        └──── abort(ref) ──────► ingest discarded

Only one writer holds a ref at a time (a second one waits). Two writers of
the same blob under different refs both succeed; the blob is stored once.
``gc(roots)`` deletes every blob not in ``roots`` and stale ingests; keeping
``roots`` complete (images, leases) is the metadata layer's job.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from types import TracebackType

    from hull.oci.digest import Digest


@dataclass(frozen=True)
class BlobInfo:
    """What the store knows about one committed blob."""

    digest: Digest
    size: int
    committed_at: float


@dataclass(frozen=True)
class IngestStatus:
    """An ingest in progress (or left behind by a crash)."""

    ref: str
    offset: int
    updated_at: float


class Writer(Protocol):
    """One ingest: append with ``write``, then ``commit`` (or close to keep it)."""

    @property
    def ref(self) -> str: ...

    @property
    def offset(self) -> int:
        """Bytes received so far (where a resumed ingest continues)."""
        ...

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data``; raise InvalidArgument past the expected size."""
        ...

    def truncate(self, size: int) -> None:
        """Drop received bytes past ``size`` (e.g. 0 to restart)."""
        ...

    def commit(self, digest: Digest | None = None) -> Digest:
        """Verify digest and size, make the blob visible, end the ingest.

        ``digest``: what the caller computed of exactly the bytes written; a
        ``hashed=False`` ingest takes it instead of re-reading its data.
        """
        ...

    def close(self) -> None:
        """Release the ref, keeping uncommitted data for a later resume."""
        ...

    def __enter__(self) -> Writer: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class ContentStore(Protocol):
    """Content-addressed blob storage with verified, atomic ingest."""

    def writer(
        self,
        ref: str,
        expected: Digest | None = None,
        expected_size: int | None = None,
        *,
        hashed: bool = True,
        hash_thread: bool = True,
    ) -> Writer:
        """Open (or resume) the ingest ``ref`` (``hashed=False``: hash at commit only).

        ``hash_thread=False``: hash in the writing thread, not in a helper one.
        """
        ...

    def ingest(
        self, stream: BinaryIO, expected: Digest | None = None, size: int | None = None
    ) -> Digest:
        """Stream ``stream`` into a blob, verified; return its digest."""
        ...

    def open(self, digest: Digest) -> BinaryIO:
        """Open a committed blob for reading; NotFound if absent."""
        ...

    def path(self, digest: Digest) -> Path:
        """Where a blob lives (whether or not it exists yet)."""
        ...

    def info(self, digest: Digest) -> BlobInfo:
        """Size and commit time of a blob; NotFound if absent."""
        ...

    def exists(self, digest: Digest) -> bool:
        """Whether the blob is committed."""
        ...

    def delete(self, digest: Digest) -> None:
        """Remove a blob; NotFound if absent."""
        ...

    def list(self) -> list[Digest]:
        """Every committed blob, sorted."""
        ...

    def status(self, ref: str) -> IngestStatus:
        """The state of an ingest; NotFound if there is none."""
        ...

    def ingests(self) -> builtins.list[IngestStatus]:
        """Every ingest present (active or abandoned)."""
        ...

    def abort(self, ref: str) -> None:
        """Discard the ingest ``ref``; NotFound if there is none."""
        ...

    def gc(self, roots: Iterable[Digest]) -> builtins.list[Digest]:
        """Delete blobs not in ``roots`` and stale ingests; return deleted blobs."""
        ...


__all__ = ["BlobInfo", "ContentStore", "IngestStatus", "Writer"]
