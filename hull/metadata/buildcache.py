"""Build cache rows: plain CRUD over the ``build_cache`` table (schema migration 3).

One row per build step whose result is known, keyed by the digest of the
step's inputs (``hull/build/cache.py`` decides what goes in). The builder
reads a row by key on every step, writes one for every step it ran, and
touches ``last_used`` of the rows a build used in one transaction at its end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hull.metadata.db import Database
from hull.oci.digest import Digest

_COLUMNS = (
    "key, parent, kind, chain_id, diff_id, digest, media_type, size, diff_size, "
    "history, inputs, created, last_used"
)


@dataclass(frozen=True)
class CacheEntry:
    """One cached build step; layer fields are set for ``kind == "layer"`` only."""

    key: str
    parent: str
    kind: str  # from | layer | meta
    chain_id: Digest | None = None
    diff_id: Digest | None = None
    digest: Digest | None = None
    media_type: str | None = None
    size: int = 0
    diff_size: int = 0
    history: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    last_used: float = 0.0


def _opt_digest(value: Any) -> Digest | None:
    return Digest.parse(str(value)) if value is not None else None


def _from_row(row: Any) -> CacheEntry:
    key, parent, kind, chain, diff, dig, mtype, size, dsize, hist, inputs, created, used = row
    return CacheEntry(
        key=str(key),
        parent=str(parent),
        kind=str(kind),
        chain_id=_opt_digest(chain),
        diff_id=_opt_digest(diff),
        digest=_opt_digest(dig),
        media_type=str(mtype) if mtype is not None else None,
        size=int(size),
        diff_size=int(dsize),
        history=json.loads(str(hist)),
        inputs=json.loads(str(inputs)),
        created=float(created),
        last_used=float(used),
    )


def _opt_text(value: Digest | None) -> str | None:
    return str(value) if value is not None else None


def get_cache_entry(db: Database, key: str) -> CacheEntry | None:
    """The row for ``key``, or None (a miss is not an error)."""
    with db.transaction(write=False) as conn:
        row = conn.execute(f"SELECT {_COLUMNS} FROM build_cache WHERE key = ?", (key,)).fetchone()
    return _from_row(row) if row is not None else None


def put_cache_entry(db: Database, entry: CacheEntry) -> None:
    """Insert or replace the row of ``entry.key``."""
    now = time.time()
    with db.transaction() as conn:
        conn.execute(
            f"INSERT OR REPLACE INTO build_cache ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.key, entry.parent, entry.kind, _opt_text(entry.chain_id),
                _opt_text(entry.diff_id), _opt_text(entry.digest), entry.media_type,
                entry.size, entry.diff_size,
                json.dumps(entry.history, sort_keys=True, separators=(",", ":")),
                json.dumps(entry.inputs, sort_keys=True, separators=(",", ":")),
                entry.created or now, entry.last_used or now,
            ),
        )  # fmt: skip


def cache_entries_with_parent(db: Database, parent: str, limit: int = 50) -> list[CacheEntry]:
    """Rows whose previous step is ``parent``, most recently used first."""
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM build_cache WHERE parent = ? "
            "ORDER BY last_used DESC, created DESC LIMIT ?",
            (parent, limit),
        ).fetchall()
    return [_from_row(r) for r in rows]


def touch_cache_entries(db: Database, keys: Iterable[str], now: float | None = None) -> None:
    """Set ``last_used`` of these rows (one transaction)."""
    keys = list(keys)
    if not keys:
        return
    now = time.time() if now is None else now
    with db.transaction() as conn:
        conn.executemany(
            "UPDATE build_cache SET last_used = ? WHERE key = ?", [(now, k) for k in keys]
        )


def list_cache_entries(db: Database) -> list[CacheEntry]:
    """Every row, oldest use first."""
    with db.transaction(write=False) as conn:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM build_cache ORDER BY last_used").fetchall()
    return [_from_row(r) for r in rows]


def delete_cache_entries(db: Database, keys: Iterable[str]) -> int:
    """Delete these rows; how many existed."""
    with db.transaction() as conn:
        n = 0
        for k in keys:
            n += conn.execute("DELETE FROM build_cache WHERE key = ?", (k,)).rowcount
    return n


__all__ = [
    "CacheEntry",
    "cache_entries_with_parent",
    "delete_cache_entries",
    "get_cache_entry",
    "list_cache_entries",
    "put_cache_entry",
    "touch_cache_entries",
]
