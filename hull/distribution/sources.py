"""What the client remembers about where content came from: ``<data-root>/distribution.db``.

Two small tables, written by pulls and pushes, read by pushes:

* ``blob_sources(digest, registry, repository)``: a blob is known to exist in
  that repository, so a push to another repository of the same registry can
  mount it (``POST …/blobs/uploads/?mount=&from=``) instead of uploading it;
* ``pulled_manifests(image_id, registry, repository, digest, media_type)``:
  the manifest an image was pulled as, pushed back byte for byte while its
  blob is still in the content store.

Losing the file loses only these shortcuts, never data.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from hull.oci.digest import Digest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS blob_sources (
    digest TEXT NOT NULL, registry TEXT NOT NULL, repository TEXT NOT NULL,
    PRIMARY KEY (digest, registry, repository));
CREATE TABLE IF NOT EXISTS pulled_manifests (
    image_id TEXT NOT NULL, registry TEXT NOT NULL, repository TEXT NOT NULL,
    digest TEXT NOT NULL, media_type TEXT NOT NULL,
    PRIMARY KEY (image_id, registry, repository));
"""


class Sources:
    """The two tables (see the module docstring); safe across threads and processes."""

    def __init__(self, data_root: Path) -> None:
        self.path = Path(data_root) / "distribution.db"
        self._lock = threading.Lock()
        with self._conn() as c:
            c.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = sqlite3.connect(self.path, timeout=30)
            try:
                with conn:
                    yield conn
            finally:
                conn.close()

    def add_blob(self, digest: Digest, registry: str, repository: str) -> None:
        with self._conn() as c:
            c.execute(
                "INSERT OR IGNORE INTO blob_sources VALUES (?, ?, ?)",
                (str(digest), registry, repository),
            )

    def blob_repositories(self, digest: Digest, registry: str) -> list[str]:
        with self._conn() as c:
            rows = c.execute(
                "SELECT repository FROM blob_sources WHERE digest = ? AND registry = ?",
                (str(digest), registry),
            ).fetchall()
        return [r[0] for r in rows]

    def add_manifest(
        self, image_id: Digest, registry: str, repository: str, digest: Digest, media_type: str
    ) -> None:
        with self._conn() as c:
            c.execute(
                "INSERT OR REPLACE INTO pulled_manifests VALUES (?, ?, ?, ?, ?)",
                (str(image_id), registry, repository, str(digest), media_type),
            )

    def manifests(self, image_id: Digest) -> list[tuple[str, str, Digest, str]]:
        """(registry, repository, digest, media type) the image was pulled as."""
        with self._conn() as c:
            rows = c.execute(
                "SELECT registry, repository, digest, media_type FROM pulled_manifests "
                "WHERE image_id = ?",
                (str(image_id),),
            ).fetchall()
        return [(r[0], r[1], Digest.parse(r[2]), r[3]) for r in rows]


__all__ = ["Sources"]
