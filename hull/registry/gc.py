"""Online garbage collection of the registry's blobs.

Mark: every manifest of every repository, and every blob those manifests
reference (config, layers, child manifests), is live. Sweep: any other blob
of the content store is deleted, unless it was used since shortly before
the mark began. "Used" is the blob's mtime, which the server sets (under
the shared ``gc.lock``) whenever it commits an upload, mounts the blob,
answers a HEAD for it, or accepts a manifest that references it; the sweep
takes ``gc.lock`` exclusively around each stat-and-unlink. So a blob
pushed (or about to be referenced) while gc runs is either seen as recent
and kept, or already gone when the server looks, which then answers
"unknown" and the client uploads it again: a push never ends with a
manifest whose blob was swept. Links of swept blobs are removed from every
repository. Uploads idle for longer than ``upload_max_age`` are purged.

Unlike distribution's ``garbage-collect`` the server need not be stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from hull.errors import HullError, NotFound
from hull.oci.digest import Digest
from hull.oci.image_spec import Index, Manifest, parse_manifest_or_index
from hull.registry.storage import RegistryStorage, atomic_write
from hull.registry.uploads import iter_uploads, upload_ref

log = logging.getLogger("hull.registry.gc")

DEFAULT_GRACE = 3600.0
DEFAULT_UPLOAD_MAX_AGE = 24 * 3600.0


@dataclass
class GCResult:
    """What one collection did."""

    marked: int = 0
    removed: list[Digest] = field(default_factory=list)
    bytes_freed: int = 0
    kept_recent: int = 0
    uploads_purged: list[str] = field(default_factory=list)


def _mark(storage: RegistryStorage) -> set[Digest]:
    live: set[Digest] = set()
    for name, digest in storage.all_manifests():
        live.add(digest)
        try:
            info, data = storage.read_manifest(name, digest)
            parsed = parse_manifest_or_index(data, info.media_type)
        except HullError as exc:
            log.warning("gc: skipping manifest %s of %s: %s", digest, name, exc)
            continue
        if isinstance(parsed, Manifest):
            live.add(parsed.config.digest)
            live.update(d.digest for d in parsed.layers)
        elif isinstance(parsed, Index):
            live.update(d.digest for d in parsed.manifests)
    return live


def collect_garbage(
    root: Path | RegistryStorage,
    *,
    grace: float = DEFAULT_GRACE,
    upload_max_age: float = DEFAULT_UPLOAD_MAX_AGE,
    dry_run: bool = False,
) -> GCResult:
    """Mark and sweep, online; blobs used within ``grace`` seconds before the start are kept."""
    storage = root if isinstance(root, RegistryStorage) else RegistryStorage(Path(root))
    started = time.time()
    atomic_write(storage.root / "gc-epoch", f"{started}\n".encode())
    result = GCResult()
    live = _mark(storage)
    result.marked = len(live)
    cutoff = started - grace
    fd = os.open(storage.gc_lock_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for digest in storage.content.list():
            if digest in live:
                continue
            path = storage.content.path(digest)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    continue
                if st.st_mtime >= cutoff:
                    result.kept_recent += 1
                    continue
                if not dry_run:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            result.removed.append(digest)
            result.bytes_freed += st.st_size
    finally:
        os.close(fd)
    if not dry_run:
        storage.remove_repo_links(set(result.removed))
        result.uploads_purged = _purge_uploads(storage, upload_max_age)
    log.info(
        "gc: %d live, %d removed (%d bytes), %d kept as recent, %d uploads purged",
        result.marked,
        len(result.removed),
        result.bytes_freed,
        result.kept_recent,
        len(result.uploads_purged),
    )
    return result


def _purge_uploads(storage: RegistryStorage, max_age: float) -> list[str]:
    now = time.time()
    purged: list[str] = []
    for name, upload_uuid, started in iter_uploads(storage):
        ref = upload_ref(upload_uuid)
        try:
            last = max(started, storage.content.status(ref).updated_at)
        except NotFound:
            last = started
        if now - last < max_age:
            continue
        with contextlib.suppress(NotFound):
            storage.content.abort(ref)
        shutil.rmtree(storage.repo_path(name) / "_uploads" / upload_uuid, ignore_errors=True)
        purged.append(upload_uuid)
    return purged


__all__ = ["DEFAULT_GRACE", "DEFAULT_UPLOAD_MAX_AGE", "GCResult", "collect_garbage"]
