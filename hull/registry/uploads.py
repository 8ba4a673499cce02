"""Blob upload sessions: POST, PATCH*, PUT of the distribution spec.

An upload is ``repositories/<name>/_uploads/<uuid>/`` (``startedat``: when
it began; ``state``: JSON of the repository and the content-store ingest
ref) plus an ingest of the shared content store, ``registry-upload-<uuid>``,
that holds the bytes received so far. The bytes stream from the socket
into the ingest in 1 MiB writes (hashing on the way, in a worker thread),
never whole into memory.

Lifecycle::

    start ──► append* (PATCH: Content-Range must start at the offset, else 416)
      │         │  a client gone mid-body keeps what arrived: GET gives Range
      │         ▼
      └────► finish(digest) ──► commit (digest verified) ──► blob visible,
                   │            link _layers/<digest>, upload gone
                   └─ mismatch: DIGEST_INVALID, ingest and upload discarded

The ingest's writer stays open between requests of one session (its
digest state too, so PATCHes do not re-hash) and is closed after
``IDLE_CLOSE`` seconds; reopening resumes by re-hashing. Requests of one
session are serialised by an asyncio lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
import uuid as uuidlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from hull.content import LocalWriter
from hull.errors import InvalidArgument, NotFound
from hull.oci.digest import Digest
from hull.registry.errors import RegistryError
from hull.registry.storage import RegistryStorage, atomic_write

WRITE_BATCH = 1 << 20
IDLE_CLOSE = 60.0


@dataclass
class Upload:
    """One upload session."""

    uuid: str
    name: str
    started_at: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    writer: LocalWriter | None = None
    last_used: float = field(default_factory=time.monotonic)

    @property
    def ref(self) -> str:
        return f"registry-upload-{self.uuid}"

    @property
    def location(self) -> str:
        return f"/v2/{self.name}/blobs/uploads/{self.uuid}"


def upload_ref(upload_uuid: str) -> str:
    """The content-store ingest ref of an upload."""
    return f"registry-upload-{upload_uuid}"


class Uploads:
    """The upload sessions of one server process."""

    def __init__(self, storage: RegistryStorage) -> None:
        self.storage = storage
        self._live: dict[str, Upload] = {}

    def _dir(self, name: str, upload_uuid: str) -> Path:
        return self.storage.repo_path(name) / "_uploads" / upload_uuid

    def start(self, name: str) -> Upload:
        """A new, empty upload into ``name``."""
        up = Upload(str(uuidlib.uuid4()), name, time.time())
        d = self._dir(name, up.uuid)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(up.started_at))
        atomic_write(d / "startedat", stamp.encode())
        state = {"name": name, "ref": up.ref, "startedAt": up.started_at}
        atomic_write(d / "state", json.dumps(state).encode())
        self._live[up.uuid] = up
        return up

    def get(self, name: str, upload_uuid: str) -> Upload:
        """The upload ``upload_uuid`` of ``name``; BLOB_UPLOAD_UNKNOWN if none."""
        try:
            canonical = str(uuidlib.UUID(upload_uuid))
        except ValueError:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": upload_uuid[:80]}) from None
        if canonical != upload_uuid:
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": upload_uuid})
        up = self._live.get(upload_uuid)
        if up is not None and up.name == name:
            return up
        try:
            state = json.loads((self._dir(name, upload_uuid) / "state").read_bytes())
        except (FileNotFoundError, ValueError):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", {"uuid": upload_uuid}) from None
        up = Upload(upload_uuid, name, float(state.get("startedAt", 0.0)))
        self._live[upload_uuid] = up
        return up

    def offset(self, up: Upload) -> int:
        """Bytes received so far."""
        if up.writer is not None:
            return up.writer.offset
        try:
            return self.storage.content.status(up.ref).offset
        except NotFound:
            return 0

    async def _writer(self, up: Upload) -> LocalWriter:
        if up.writer is None:
            up.writer = await asyncio.to_thread(self.storage.content.writer, up.ref)
        up.last_used = time.monotonic()
        return up.writer

    async def append(self, up: Upload, chunks: AsyncIterator[bytes], start: int | None) -> int:
        """Stream ``chunks`` onto the upload; ``start`` must be the offset. New offset."""
        w = await self._writer(up)
        if start is not None and start != w.offset:
            raise self.range_error(up, w.offset, f"chunk starts at {start}, expected {w.offset}")
        buf = bytearray()
        try:
            async for data in chunks:
                buf += data
                if len(buf) >= WRITE_BATCH:
                    full, buf = buf, bytearray()
                    await asyncio.to_thread(w.write, full)
        finally:
            # What arrived before a disconnect is kept: the client may resume.
            if buf:
                await asyncio.to_thread(w.write, buf)
            up.last_used = time.monotonic()
        return w.offset

    def range_error(self, up: Upload, offset: int, detail: str) -> RegistryError:
        """416 with the upload's current ``Range``."""
        return RegistryError(
            "RANGE_INVALID",
            detail,
            headers={
                "Location": up.location,
                "Range": f"0-{max(offset - 1, 0)}",
                "Docker-Upload-UUID": up.uuid,
            },
        )

    async def finish(self, up: Upload, digest: Digest) -> Digest:
        """Verify the received bytes against ``digest`` and commit them as a blob."""
        w = await self._writer(up)
        if digest.algorithm != "sha256":
            # The open writer hashes sha256: resume once under the right algorithm.
            w.close()
            w = await asyncio.to_thread(self.storage.content.writer, up.ref, digest)
        up.writer = None
        # LocalWriter verifies against the digest it was opened with; an open
        # writer learns it only now, at PUT.
        w._expected = digest

        def commit() -> Digest:
            with self.storage.gc_shared():
                got = w.commit()
                os.utime(self.storage.content.path(got))
            return got

        try:
            got = await asyncio.to_thread(commit)
        except InvalidArgument as exc:
            self._forget(up)
            raise RegistryError("DIGEST_INVALID", exc.message) from None
        self.storage.link_blob(up.name, got)
        self._forget(up)
        return got

    def cancel(self, up: Upload) -> None:
        """Discard the upload and its bytes."""
        if up.writer is not None:
            up.writer.close()
            up.writer = None
        with contextlib.suppress(NotFound):
            self.storage.content.abort(up.ref)
        self._forget(up)

    def _forget(self, up: Upload) -> None:
        self._live.pop(up.uuid, None)
        shutil.rmtree(self._dir(up.name, up.uuid), ignore_errors=True)

    def close_idle(self, idle: float = IDLE_CLOSE) -> None:
        """Close writers unused for ``idle`` seconds (their data stays for a resume)."""
        cutoff = time.monotonic() - idle
        for up in list(self._live.values()):
            if up.last_used < cutoff and not up.lock.locked():
                if up.writer is not None:
                    up.writer.close()
                    up.writer = None
                self._live.pop(up.uuid, None)

    def close_all(self) -> None:
        """Close every open writer (shutdown)."""
        for up in self._live.values():
            if up.writer is not None:
                up.writer.close()
                up.writer = None
        self._live.clear()


def iter_uploads(storage: RegistryStorage) -> list[tuple[str, str, float]]:
    """Every upload on disk as (repository, uuid, started_at) (for gc)."""
    out: list[tuple[str, str, float]] = []
    for dirpath, dirnames, _ in os.walk(storage.repos):
        if "_uploads" in dirnames:
            name = os.path.relpath(dirpath, storage.repos)
            up_dir = Path(dirpath) / "_uploads"
            for u in os.listdir(up_dir):
                try:
                    started = float(json.loads((up_dir / u / "state").read_bytes())["startedAt"])
                except (OSError, ValueError, KeyError):
                    started = 0.0
                out.append((name, u, started))
        dirnames[:] = [d for d in dirnames if not d.startswith("_")]
    return out


__all__ = ["IDLE_CLOSE", "Upload", "Uploads", "iter_uploads", "upload_ref"]
