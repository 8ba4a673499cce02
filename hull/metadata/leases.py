"""Leases and garbage-collection roots.

A lease protects resources that no image references yet (a pull in progress,
a build's intermediate snapshots) from garbage collection, as containerd's
leases do. It names resources by ``kind`` and ``key``:

    content   a blob digest (``sha256:…``)
    snapshot  a snapshot key (a chain ID, or an active snapshot's key)
    ingest    a content-store ingest ref

A lease with ``expires`` in the past protects nothing and is removed by
``expire_leases``. GC roots = everything images reference + what live leases hold.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from hull.errors import AlreadyExists, InvalidArgument, NotFound
from hull.metadata.db import Database
from hull.oci.digest import Digest

LEASE_KINDS = ("content", "snapshot", "ingest")


@dataclass(frozen=True)
class Lease:
    """A GC lease: holds its resources until deleted or ``expires``."""

    id: str
    created: float
    expires: float | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LeaseResource:
    """One resource a lease holds."""

    kind: str
    key: str


def _lease_from_row(row: Any) -> Lease:
    id_, created, expires, labels = row
    return Lease(
        id=str(id_),
        created=float(created),
        expires=float(expires) if expires is not None else None,
        labels=json.loads(str(labels)),
    )


def _check_resource(kind: str, key: str) -> None:
    if kind not in LEASE_KINDS:
        expected = ", ".join(LEASE_KINDS)
        raise InvalidArgument(f"unknown lease resource kind '{kind}' (expected {expected})")
    if not key:
        raise InvalidArgument(f"lease resource of kind '{kind}': empty key")
    if kind == "content":
        Digest.parse(key)


def create_lease(
    db: Database,
    lease_id: str | None = None,
    *,
    expires: float | None = None,
    labels: dict[str, str] | None = None,
) -> Lease:
    """Create a lease (a random ID if none given); AlreadyExists if the ID is taken."""
    if lease_id is None:
        lease_id = "hull-" + secrets.token_hex(12)
    if not lease_id or len(lease_id) > 255:
        raise InvalidArgument(f"invalid lease id '{lease_id}'")
    lease = Lease(lease_id, time.time(), expires, dict(labels or {}))
    try:
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO leases (id, created, expires, labels) VALUES (?, ?, ?, ?)",
                (lease.id, lease.created, lease.expires, json.dumps(lease.labels, sort_keys=True)),
            )
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists(f"lease {lease_id} already exists") from exc
    return lease


def get_lease(db: Database, lease_id: str) -> Lease:
    """The lease; NotFound if there is none."""
    with db.transaction(write=False) as conn:
        row = conn.execute(
            "SELECT id, created, expires, labels FROM leases WHERE id = ?", (lease_id,)
        ).fetchone()
    if row is None:
        raise NotFound(f"no such lease: {lease_id}")
    return _lease_from_row(row)


def list_leases(db: Database) -> list[Lease]:
    """Every lease, expired ones included, oldest first."""
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT id, created, expires, labels FROM leases ORDER BY created, id"
        ).fetchall()
    return [_lease_from_row(r) for r in rows]


def delete_lease(db: Database, lease_id: str) -> None:
    """Delete the lease and release its resources; NotFound if there is none."""
    with db.transaction() as conn:
        cur = conn.execute("DELETE FROM leases WHERE id = ?", (lease_id,))
    if cur.rowcount == 0:
        raise NotFound(f"no such lease: {lease_id}")


def expire_leases(db: Database, now: float | None = None) -> list[str]:
    """Delete every lease whose ``expires`` is past; return their IDs."""
    now = time.time() if now is None else now
    with db.transaction() as conn:
        rows = conn.execute(
            "DELETE FROM leases WHERE expires IS NOT NULL AND expires <= ? RETURNING id", (now,)
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


def add_lease_resource(db: Database, lease_id: str, kind: str, key: str) -> None:
    """Let the lease hold ``kind``/``key`` (idempotent); NotFound if the lease is gone."""
    _check_resource(kind, key)
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM leases WHERE id = ?", (lease_id,)).fetchone() is None:
            raise NotFound(f"no such lease: {lease_id}")
        conn.execute(
            "INSERT OR IGNORE INTO lease_resources (lease_id, kind, key) VALUES (?, ?, ?)",
            (lease_id, kind, key),
        )


def remove_lease_resource(db: Database, lease_id: str, kind: str, key: str) -> None:
    """Stop holding ``kind``/``key`` under the lease (no error if it was not held)."""
    with db.transaction() as conn:
        conn.execute(
            "DELETE FROM lease_resources WHERE lease_id = ? AND kind = ? AND key = ?",
            (lease_id, kind, key),
        )


def lease_resources(db: Database, lease_id: str) -> list[LeaseResource]:
    """What the lease holds, sorted; NotFound if there is no such lease."""
    with db.transaction(write=False) as conn:
        if conn.execute("SELECT 1 FROM leases WHERE id = ?", (lease_id,)).fetchone() is None:
            raise NotFound(f"no such lease: {lease_id}")
        rows = conn.execute(
            "SELECT kind, key FROM lease_resources WHERE lease_id = ? ORDER BY kind, key",
            (lease_id,),
        ).fetchall()
    return [LeaseResource(str(r[0]), str(r[1])) for r in rows]


# -- GC roots ----------------------------------------------------------------------------

_LIVE = "SELECT id FROM leases WHERE expires IS NULL OR expires > ?"


def referenced_blobs(db: Database, now: float | None = None) -> set[Digest]:
    """Blobs that must survive GC: image configs, manifests, layer blobs, leased content."""
    now = time.time() if now is None else now
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT id FROM images"
            " UNION SELECT manifest_digest FROM images WHERE manifest_digest IS NOT NULL"
            " UNION SELECT digest FROM image_layers WHERE digest IS NOT NULL"
            " UNION SELECT key FROM lease_resources"
            f" WHERE kind = 'content' AND lease_id IN ({_LIVE})",
            (now,),
        ).fetchall()
    return {Digest.parse(str(r[0])) for r in rows}


def referenced_chain_ids(db: Database, now: float | None = None) -> set[str]:
    """Snapshot keys that must survive GC: every image layer's chain ID, leased snapshots."""
    now = time.time() if now is None else now
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT chain_id FROM image_layers"
            " UNION SELECT key FROM lease_resources"
            f" WHERE kind = 'snapshot' AND lease_id IN ({_LIVE})",
            (now,),
        ).fetchall()
    return {str(r[0]) for r in rows}


def leased_ingests(db: Database, now: float | None = None) -> set[str]:
    """Content-store ingest refs held by live leases."""
    now = time.time() if now is None else now
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            f"SELECT key FROM lease_resources WHERE kind = 'ingest' AND lease_id IN ({_LIVE})",
            (now,),
        ).fetchall()
    return {str(r[0]) for r in rows}


__all__ = [
    "LEASE_KINDS",
    "Lease",
    "LeaseResource",
    "add_lease_resource",
    "create_lease",
    "delete_lease",
    "expire_leases",
    "get_lease",
    "lease_resources",
    "leased_ingests",
    "list_leases",
    "referenced_blobs",
    "referenced_chain_ids",
    "remove_lease_resource",
]
