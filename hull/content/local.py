"""The local content store: blobs on disk in the OCI image-layout shape.

Layout under ``root``::

    blobs/<alg>/<hex>           committed blobs, read-only (0444)
    ingest/<sha256(ref)>/ref    the ingest's ref, verbatim
    ingest/<sha256(ref)>/data   bytes received so far
    ingest/<sha256(ref)>/lock   flock(2)ed by the one writer of the ref

A blob's path is derived only from a validated ``Digest``; an ingest's
directory only from the sha256 of its ref, so no caller string becomes a
path. Commit = fsync(data) → verify size and digest → rename into
``blobs/`` → fsync the directory: a reader sees a whole blob or none. A
crash leaves ``ingest/<key>/data``; reopening the same ref re-hashes it and
resumes at its end.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from hull.content.hashing import HashBehind
from hull.content.store import BlobInfo, IngestStatus
from hull.errors import InvalidArgument, NotFound
from hull.oci.digest import ALGORITHMS, Digest

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

CHUNK = 1 << 20
# An ingest nobody holds and nobody touched for this long is garbage.
DEFAULT_STALE_INGEST_SECONDS = 24 * 3600.0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _ref_key(ref: str) -> str:
    if not ref or "\0" in ref:
        raise InvalidArgument(f"invalid ingest ref {ref!r}: must be a non-empty string")
    return hashlib.sha256(ref.encode("utf-8", "surrogateescape")).hexdigest()


class LocalWriter:
    """An ingest under ``ingest/<key>/``; holds the ref's flock while open."""

    def __init__(
        self,
        store: LocalStore,
        ref: str,
        expected: Digest | None,
        expected_size: int | None,
        hashed: bool = True,
        hash_thread: bool = True,
    ) -> None:
        if expected_size is not None and expected_size < 0:
            raise InvalidArgument(f"ingest '{ref}': negative expected size {expected_size}")
        self._store = store
        self._ref = ref
        self._expected = expected
        self._expected_size = expected_size
        self._dir = store.root / "ingest" / _ref_key(ref)
        self._lock_fd = self._lock()
        self._closed = False
        self._hashed = hashed
        self._size = 0
        try:
            (self._dir / "ref").write_text(ref, encoding="utf-8", errors="surrogateescape")
            algorithm = expected.algorithm if expected is not None else "sha256"
            self._digester = HashBehind(algorithm, threaded=hash_thread)
            data = self._dir / "data"
            fd = os.open(data, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._file = os.fdopen(fd, "r+b", buffering=0)
            if hashed:
                # Resume: re-hash what an earlier (crashed or closed) writer left.
                while chunk := self._file.read(CHUNK):
                    self._digester.update(chunk)
                self._size = self._digester.size
            else:
                self._size = self._file.seek(0, os.SEEK_END)
            if expected_size is not None and self._size > expected_size:
                self.truncate(0)
        except BaseException:
            self._release()
            raise

    def _lock(self) -> int:
        # The lock file lives in the ingest dir, which commit/abort remove:
        # after flock() returns, check that our inode is still the one at
        # the path, else the ingest we waited for is gone; start a new one.
        while True:
            self._dir.mkdir(parents=True, exist_ok=True)
            path = self._dir / "lock"
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same = os.stat(path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
            except BaseException:
                os.close(fd)
                raise
            if same:
                return fd
            os.close(fd)

    @property
    def ref(self) -> str:
        return self._ref

    @property
    def offset(self) -> int:
        return self._size

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidArgument(f"ingest '{self._ref}' is closed")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data``; raise InvalidArgument past the expected size."""
        self._check_open()
        n = len(data)
        if self._expected_size is not None and self.offset + n > self._expected_size:
            size = self.offset + n
            self._discard()
            raise InvalidArgument(
                f"ingest '{self._ref}': received {size} bytes, more than the expected "
                f"{self._expected_size}"
            )
        view = memoryview(data)
        written = 0
        while written < n:
            written += self._file.write(view[written:]) or 0
        self._size += n
        if self._hashed:
            self._digester.update(data)
        return n

    def truncate(self, size: int) -> None:
        """Drop bytes past ``size`` and re-hash the rest."""
        self._check_open()
        if size < 0 or size > self.offset:
            raise InvalidArgument(f"ingest '{self._ref}': cannot truncate to {size}")
        self._file.truncate(size)
        self._size = size
        if not self._hashed:
            self._file.seek(size)
            return
        self._file.seek(0)
        self._digester.close()
        self._digester = HashBehind(self._digester.algorithm, threaded=self._digester.threaded)
        remaining = size
        while remaining:
            chunk = self._file.read(min(CHUNK, remaining))
            if not chunk:
                break
            self._digester.update(chunk)
            remaining -= len(chunk)
        self._file.seek(size)

    def commit(self, digest: Digest | None = None) -> Digest:
        """Verify size and digest, rename into ``blobs/``, fsync, end the ingest.

        ``digest``: what the caller computed of exactly the bytes written (or
        read back from the file). An ingest made with ``hashed=False`` takes
        it instead of reading the file again; one that hashed checks both agree.
        """
        self._check_open()
        size = self.offset
        if digest is None or self._hashed:
            if not self._hashed:
                self._rehash()
            own = self._digester.digest()
            if digest is not None and digest != own:
                self._discard()
                raise InvalidArgument(
                    f"ingest '{self._ref}': the bytes stored have digest {own}, not the {digest} "
                    "its reader computed"
                )
            digest = own
        if self._expected_size is not None and size != self._expected_size:
            self._discard()
            raise InvalidArgument(
                f"ingest '{self._ref}': size mismatch: received {size} bytes, "
                f"expected {self._expected_size}"
            )
        if self._expected is not None and digest != self._expected:
            self._discard()
            raise InvalidArgument(
                f"ingest '{self._ref}': digest mismatch: received {digest}, "
                f"expected {self._expected}"
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        os.fchmod(self._file.fileno(), 0o444)
        target = self._store.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        # rename(2) over an identical blob committed meanwhile is harmless.
        os.rename(self._dir / "data", target)
        _fsync_dir(target.parent)
        self._discard()
        return digest

    def _rehash(self) -> None:
        self._file.seek(0)
        self._digester.close()
        self._digester = HashBehind(self._digester.algorithm, threaded=self._digester.threaded)
        while chunk := self._file.read(CHUNK):
            self._digester.update(chunk)

    def _discard(self) -> None:
        if not self._closed:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._release()

    def _release(self) -> None:
        self._closed = True
        with contextlib.suppress(AttributeError):
            self._digester.close()  # its helper thread ends
        with contextlib.suppress(AttributeError):
            self._file.close()
        os.close(self._lock_fd)

    def close(self) -> None:
        """Release the ref; uncommitted data stays for a resume."""
        if not self._closed:
            self._release()

    def __enter__(self) -> LocalWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class LocalStore:
    """A ``ContentStore`` on a local directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "ingest").mkdir(parents=True, exist_ok=True)

    def path(self, digest: Digest) -> Path:
        """``blobs/<alg>/<hex>`` (the digest is validated by its type)."""
        if not isinstance(digest, Digest):
            raise InvalidArgument(f"invalid digest {digest!r}: expected a Digest")
        return self.root / "blobs" / digest.algorithm / digest.hex

    def writer(
        self,
        ref: str,
        expected: Digest | None = None,
        expected_size: int | None = None,
        *,
        hashed: bool = True,
        hash_thread: bool = True,
    ) -> LocalWriter:
        """Open (or resume) the ingest ``ref``; waits while another writer holds it.

        ``hashed=False`` makes a spool: bytes are not hashed as they are written
        (a reader that verifies them does it), only at ``commit``.
        ``hash_thread=False`` hashes each write in the writing thread (see
        ``HashBehind``).
        """
        return LocalWriter(self, ref, expected, expected_size, hashed, hash_thread)

    def ingest(
        self, stream: BinaryIO, expected: Digest | None = None, size: int | None = None
    ) -> Digest:
        """Stream ``stream`` into a verified blob in 1 MiB chunks."""
        ref = f"ingest-{uuid.uuid4().hex}"
        w = self.writer(ref, expected, size)
        try:
            readinto = getattr(stream, "readinto", None)
            if readinto is not None:
                buf = bytearray(CHUNK)
                view = memoryview(buf)
                while n := readinto(buf):
                    w.write(view[:n])
            else:
                while chunk := stream.read(CHUNK):
                    w.write(chunk)
            return w.commit()
        finally:
            if not w._closed:
                w._discard()

    def open(self, digest: Digest) -> BinaryIO:
        """Open a blob for reading."""
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"no such blob: {digest}") from None

    def info(self, digest: Digest) -> BlobInfo:
        """Size and commit time of a blob."""
        try:
            st = os.stat(self.path(digest))
        except FileNotFoundError:
            raise NotFound(f"no such blob: {digest}") from None
        return BlobInfo(digest=digest, size=st.st_size, committed_at=st.st_mtime)

    def exists(self, digest: Digest) -> bool:
        """Whether the blob is committed."""
        return self.path(digest).is_file()

    def delete(self, digest: Digest) -> None:
        """Remove a blob."""
        path = self.path(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            raise NotFound(f"no such blob: {digest}") from None
        _fsync_dir(path.parent)

    def list(self) -> list[Digest]:
        """Every committed blob, sorted; stray files are skipped."""
        out: list[Digest] = []
        blobs = self.root / "blobs"
        for algorithm in ALGORITHMS:
            try:
                names = os.listdir(blobs / algorithm)
            except FileNotFoundError:
                continue
            for name in names:
                try:
                    out.append(Digest(algorithm, name))
                except InvalidArgument:
                    continue
        out.sort()
        return out

    def _status_of(self, key_dir: Path) -> IngestStatus:
        ref = (key_dir / "ref").read_text(encoding="utf-8", errors="surrogateescape")
        try:
            st = os.stat(key_dir / "data")
            offset, updated = st.st_size, st.st_mtime
        except FileNotFoundError:
            offset, updated = 0, os.stat(key_dir).st_mtime
        return IngestStatus(ref=ref, offset=offset, updated_at=updated)

    def status(self, ref: str) -> IngestStatus:
        """Offset and last update of the ingest ``ref``."""
        try:
            return self._status_of(self.root / "ingest" / _ref_key(ref))
        except FileNotFoundError:
            raise NotFound(f"no such ingest: {ref}") from None

    def ingests(self) -> builtins.list[IngestStatus]:
        """Every ingest present."""
        out = []
        for name in sorted(os.listdir(self.root / "ingest")):
            try:
                out.append(self._status_of(self.root / "ingest" / name))
            except FileNotFoundError:
                continue
        return out

    def abort(self, ref: str) -> None:
        """Discard the ingest ``ref`` (waits for its writer to close)."""
        key_dir = self.root / "ingest" / _ref_key(ref)
        if not key_dir.exists():
            raise NotFound(f"no such ingest: {ref}")
        w = self.writer(ref, hashed=False)  # only for its lock: no need to hash what goes
        w._discard()

    def _try_remove_stale_ingest(self, key_dir: Path, cutoff: float) -> None:
        try:
            fd = os.open(key_dir / "lock", os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            # A writer is creating it right now, or a crash left no lock.
            if os.stat(key_dir).st_mtime < cutoff:
                shutil.rmtree(key_dir, ignore_errors=True)
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    return  # an active writer
                raise
            try:
                updated = os.stat(key_dir / "data").st_mtime
            except FileNotFoundError:
                updated = os.stat(key_dir).st_mtime
            if updated < cutoff:
                shutil.rmtree(key_dir, ignore_errors=True)
        finally:
            os.close(fd)

    def gc(
        self,
        roots: Iterable[Digest],
        *,
        stale_ingest_seconds: float = DEFAULT_STALE_INGEST_SECONDS,
    ) -> builtins.list[Digest]:
        """Delete blobs not in ``roots`` and unlocked ingests idle past the cutoff."""
        keep = set(roots)
        removed: list[Digest] = []
        for digest in self.list():
            if digest not in keep:
                with contextlib.suppress(FileNotFoundError):
                    self.path(digest).unlink()
                    removed.append(digest)
        for algorithm in ALGORITHMS:
            d = self.root / "blobs" / algorithm
            if d.is_dir():
                _fsync_dir(d)
        cutoff = time.time() - stale_ingest_seconds
        ingest = self.root / "ingest"
        for name in os.listdir(ingest):
            with contextlib.suppress(FileNotFoundError):
                self._try_remove_stale_ingest(ingest / name, cutoff)
        return removed


__all__ = ["LocalStore", "LocalWriter"]
