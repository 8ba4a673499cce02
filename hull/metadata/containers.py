"""Container and volume records: plain CRUD over the metadata database.

The engine decides what a container may do; this module stores its record
and finds it the way Docker does: by full id, then by exact name, then by a
unique id prefix (an ambiguous prefix is an error naming it). Each function
is one transaction, or joins the caller's.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field, replace
from typing import Any

from hull.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from hull.metadata.db import Database

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class ContainerRecord:
    """One container as stored; the JSON documents stay dicts for the engine to type."""

    id: str
    name: str
    image_id: str
    image_ref: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    runtime: str
    created: float = 0.0
    network_settings: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    restart_count: int = 0
    snapshot_key: str | None = None


@dataclass(frozen=True)
class VolumeRecord:
    """A named (or anonymous) volume."""

    name: str
    mountpoint: str
    driver: str = "local"
    created: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False


_COLS = (
    "id, name, image_id, image_ref, created, config, host_config, network_settings, state,"
    " restart_count, runtime, snapshot_key"
)


def _from_row(row: Any) -> ContainerRecord:
    (cid, name, image_id, image_ref, created, config, host, net, state, restarts, runtime,
     snap) = row  # fmt: skip
    return ContainerRecord(
        id=str(cid),
        name=str(name),
        image_id=str(image_id),
        image_ref=str(image_ref),
        created=float(created),
        config=json.loads(config),
        host_config=json.loads(host),
        network_settings=json.loads(net),
        state=json.loads(state),
        restart_count=int(restarts),
        runtime=str(runtime),
        snapshot_key=None if snap is None else str(snap),
    )


def _check_name(name: str) -> None:
    # Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+
    ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
    if (
        len(name) < 2
        or not name[0].isalnum()
        or not name.isascii()
        or any(c not in ok for c in name)
    ):
        raise InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )


def put_container(db: Database, rec: ContainerRecord) -> ContainerRecord:
    """Insert a new container; a taken name is Docker's 409 conflict."""
    if len(rec.id) != 64 or any(c not in _HEX for c in rec.id):
        raise InvalidArgument(f"invalid container id {rec.id!r}")
    _check_name(rec.name)
    rec = rec if rec.created else replace(rec, created=time.time())
    try:
        with db.transaction() as conn:
            conn.execute(
                f"INSERT INTO containers ({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (rec.id, rec.name, rec.image_id, rec.image_ref, rec.created,
                 json.dumps(rec.config), json.dumps(rec.host_config),
                 json.dumps(rec.network_settings), json.dumps(rec.state), rec.restart_count,
                 rec.runtime, rec.snapshot_key),
            )  # fmt: skip
    except sqlite3.IntegrityError:
        other = _lookup_name(db, rec.name)
        raise AlreadyExists(
            f'Conflict. The container name "/{rec.name}" is already in use by container '
            f'"{other}". You have to remove (or rename) that container to be able to reuse '
            "that name."
        ) from None
    return rec


def _lookup_name(db: Database, name: str) -> str:
    with db.transaction(write=False) as conn:
        row = conn.execute("SELECT id FROM containers WHERE name = ?", (name,)).fetchone()
    return str(row[0]) if row else ""


def get_container(db: Database, cid: str) -> ContainerRecord:
    """The container with exactly this id."""
    with db.transaction(write=False) as conn:
        row = conn.execute(f"SELECT {_COLS} FROM containers WHERE id = ?", (cid,)).fetchone()
    if row is None:
        raise NotFound(f"No such container: {cid}")
    return _from_row(row)


def find_container(db: Database, ref: str) -> ContainerRecord:
    """By full id, exact name (with or without "/"), then unique id prefix, as Docker."""
    name = ref[1:] if ref.startswith("/") else ref
    with db.transaction(write=False) as conn:
        row = conn.execute(f"SELECT {_COLS} FROM containers WHERE id = ?", (ref,)).fetchone()
        if row is None:
            row = conn.execute(f"SELECT {_COLS} FROM containers WHERE name = ?", (name,)).fetchone()
        if row is None and ref and all(c in _HEX for c in ref):
            rows = conn.execute(
                f"SELECT {_COLS} FROM containers WHERE id >= ? AND id < ? LIMIT 2",
                (ref, ref + "g"),
            ).fetchall()
            if len(rows) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
            row = rows[0] if rows else None
    if row is None:
        raise NotFound(f"No such container: {ref}")
    return _from_row(row)


def list_containers(db: Database) -> list[ContainerRecord]:
    """Every container, newest first."""
    with db.transaction(write=False) as conn:
        rows = conn.execute(f"SELECT {_COLS} FROM containers ORDER BY created DESC, id").fetchall()
    return [_from_row(r) for r in rows]


def update_container(db: Database, cid: str, **changes: Any) -> ContainerRecord:
    """Replace some fields (state, network_settings, restart_count, host_config, snapshot_key)."""
    allowed = {"state", "network_settings", "restart_count", "host_config", "snapshot_key",
               "config"}  # fmt: skip
    bad = set(changes) - allowed
    if bad:
        raise InvalidArgument(f"cannot update container fields {sorted(bad)}")
    sets = []
    values: list[Any] = []
    for k, v in changes.items():
        sets.append(f"{k} = ?")
        values.append(json.dumps(v) if isinstance(v, dict) else v)
    with db.transaction() as conn:
        cur = conn.execute(f"UPDATE containers SET {', '.join(sets)} WHERE id = ?", (*values, cid))
        if cur.rowcount == 0:
            raise NotFound(f"No such container: {cid}")
        row = conn.execute(f"SELECT {_COLS} FROM containers WHERE id = ?", (cid,)).fetchone()
    return _from_row(row)


def rename_container(db: Database, cid: str, new_name: str) -> None:
    """Give a container a new name; a taken name is a conflict."""
    _check_name(new_name)
    try:
        with db.transaction() as conn:
            cur = conn.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, cid))
            if cur.rowcount == 0:
                raise NotFound(f"No such container: {cid}")
    except sqlite3.IntegrityError:
        raise Conflict(
            f'Error when allocating new name: Conflict. The container name "/{new_name}" is '
            f'already in use by container "{_lookup_name(db, new_name)}". You have to remove '
            "(or rename) that container to be able to reuse that name."
        ) from None


def delete_container(db: Database, cid: str) -> None:
    """Remove a container's record (its volume references go with it)."""
    with db.transaction() as conn:
        conn.execute("DELETE FROM containers WHERE id = ?", (cid,))


def containers_using_image(db: Database, image_id: str) -> list[str]:
    """Ids of the containers made from an image."""
    with db.transaction(write=False) as conn:
        rows = conn.execute("SELECT id FROM containers WHERE image_id = ?", (image_id,)).fetchall()
    return [str(r[0]) for r in rows]


# ---- volumes


def put_volume(db: Database, vol: VolumeRecord) -> VolumeRecord:
    """Insert a volume; AlreadyExists if the name is taken."""
    vol = vol if vol.created else replace(vol, created=time.time())
    try:
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO volumes (name, driver, mountpoint, created, labels, options,"
                " anonymous) VALUES (?,?,?,?,?,?,?)",
                (vol.name, vol.driver, vol.mountpoint, vol.created, json.dumps(vol.labels),
                 json.dumps(vol.options), int(vol.anonymous)),
            )  # fmt: skip
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"volume {vol.name} already exists") from None
    return vol


def _vol_from_row(row: Any) -> VolumeRecord:
    name, driver, mountpoint, created, labels, options, anonymous = row
    return VolumeRecord(
        name=str(name),
        driver=str(driver),
        mountpoint=str(mountpoint),
        created=float(created),
        labels=json.loads(labels),
        options=json.loads(options),
        anonymous=bool(anonymous),
    )


_VCOLS = "name, driver, mountpoint, created, labels, options, anonymous"


def get_volume(db: Database, name: str) -> VolumeRecord:
    with db.transaction(write=False) as conn:
        row = conn.execute(f"SELECT {_VCOLS} FROM volumes WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"get {name}: no such volume")
    return _vol_from_row(row)


def list_volumes(db: Database) -> list[VolumeRecord]:
    with db.transaction(write=False) as conn:
        rows = conn.execute(f"SELECT {_VCOLS} FROM volumes ORDER BY name").fetchall()
    return [_vol_from_row(r) for r in rows]


def add_volume_ref(db: Database, volume: str, container_id: str) -> None:
    """Record that a container uses a volume."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO volume_refs (volume, container_id) VALUES (?, ?)",
            (volume, container_id),
        )


def volume_users(db: Database, volume: str) -> list[str]:
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT container_id FROM volume_refs WHERE volume = ? ORDER BY container_id",
            (volume,),
        ).fetchall()
    return [str(r[0]) for r in rows]


def delete_volume(db: Database, name: str) -> None:
    """Remove a volume's record; refused while a container uses it (Docker's message)."""
    with db.transaction() as conn:
        users = [
            str(r[0])
            for r in conn.execute(
                "SELECT container_id FROM volume_refs WHERE volume = ?", (name,)
            ).fetchall()
        ]
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        cur = conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
        if cur.rowcount == 0:
            raise NotFound(f"get {name}: no such volume")


__all__ = [
    "ContainerRecord",
    "VolumeRecord",
    "add_volume_ref",
    "containers_using_image",
    "delete_container",
    "delete_volume",
    "find_container",
    "get_container",
    "get_volume",
    "list_containers",
    "list_volumes",
    "put_container",
    "put_volume",
    "rename_container",
    "update_container",
    "volume_users",
]
