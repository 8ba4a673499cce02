"""Image, layer and tag records: plain CRUD over the metadata database.

No business rules live here (whether an image may be deleted while tagged or
used, what a reference normalises to): ``hull/images`` decides, this module
stores. Each function is one transaction, or joins the caller's. References
are stored in their full normalised form as text; digest references
(``name@sha256:…``, Docker's RepoDigests) are stored in ``tags`` as well.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from hull.errors import InvalidArgument, NotFound
from hull.metadata.db import Database
from hull.oci.digest import ALGORITHMS, Digest

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class ImageLayer:
    """One layer of an image, bottom first."""

    diff_id: Digest
    chain_id: Digest
    digest: Digest | None = None  # the (compressed) blob, when one exists
    media_type: str | None = None
    size: int = 0  # blob size
    diff_size: int = 0  # uncompressed size


@dataclass(frozen=True)
class ImageRecord:
    """An image: its ID (config digest), configuration bytes and layers."""

    id: Digest
    config: bytes
    layers: tuple[ImageLayer, ...] = ()
    manifest_digest: Digest | None = None
    created: float | None = None
    size: int = 0
    parent: Digest | None = None
    labels: dict[str, str] = field(default_factory=dict)
    last_tagged: float | None = None
    added: float | None = None  # set by put_image on first insert


_IMAGE_COLUMNS = "id, manifest_digest, config, created, size, parent, labels, last_tagged, added"


def _image_from_row(row: Any, layers: tuple[ImageLayer, ...]) -> ImageRecord:
    id_, manifest, config, created, size, parent, labels, last_tagged, added = row
    return ImageRecord(
        id=Digest.parse(str(id_)),
        config=bytes(config),
        layers=layers,
        manifest_digest=Digest.parse(str(manifest)) if manifest is not None else None,
        created=float(created) if created is not None else None,
        size=int(size),
        parent=Digest.parse(str(parent)) if parent is not None else None,
        labels=json.loads(str(labels)),
        last_tagged=float(last_tagged) if last_tagged is not None else None,
        added=float(added) if added is not None else None,
    )


def _layer_from_row(row: Any) -> ImageLayer:
    diff_id, chain_id, digest, media_type, size, diff_size = row
    return ImageLayer(
        diff_id=Digest.parse(str(diff_id)),
        chain_id=Digest.parse(str(chain_id)),
        digest=Digest.parse(str(digest)) if digest is not None else None,
        media_type=str(media_type) if media_type is not None else None,
        size=int(size),
        diff_size=int(diff_size),
    )


def _opt(d: Digest | None) -> str | None:
    return None if d is None else str(d)


def _load_layers(conn: sqlite3.Connection, image_id: str) -> tuple[ImageLayer, ...]:
    rows = conn.execute(
        "SELECT diff_id, chain_id, digest, media_type, size, diff_size FROM image_layers"
        " WHERE image_id = ? ORDER BY idx",
        (image_id,),
    ).fetchall()
    return tuple(_layer_from_row(r) for r in rows)


# -- images ----------------------------------------------------------------------------


def put_image(db: Database, image: ImageRecord) -> ImageRecord:
    """Insert or replace ``image`` with its layers atomically; tags are kept.

    ``added`` is set on first insert and kept afterwards; a ``last_tagged``
    of None keeps the stored one. Returns the record as stored.
    """
    with db.transaction() as conn:
        now = time.time()
        conn.execute(
            f"INSERT INTO images ({_IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest,"
            " config = excluded.config, created = excluded.created, size = excluded.size,"
            " parent = excluded.parent, labels = excluded.labels,"
            " last_tagged = coalesce(excluded.last_tagged, images.last_tagged)",
            (
                str(image.id),
                _opt(image.manifest_digest),
                bytes(image.config),
                image.created,
                image.size,
                _opt(image.parent),
                json.dumps(image.labels, sort_keys=True),
                image.last_tagged,
                image.added if image.added is not None else now,
            ),
        )
        conn.execute("DELETE FROM image_layers WHERE image_id = ?", (str(image.id),))
        conn.executemany(
            "INSERT INTO image_layers (image_id, idx, diff_id, chain_id, digest, media_type,"
            " size, diff_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    str(image.id),
                    i,
                    str(layer.diff_id),
                    str(layer.chain_id),
                    _opt(layer.digest),
                    layer.media_type,
                    layer.size,
                    layer.diff_size,
                )
                for i, layer in enumerate(image.layers)
            ],
        )
        return _get(conn, str(image.id))


def _get(conn: sqlite3.Connection, image_id: str) -> ImageRecord:
    row = conn.execute(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,)).fetchone()
    if row is None:
        raise NotFound(f"no such image: {image_id}")
    return _image_from_row(row, _load_layers(conn, image_id))


def get_image(db: Database, image_id: Digest) -> ImageRecord:
    """The image with this ID; NotFound if there is none."""
    with db.transaction(write=False) as conn:
        return _get(conn, str(image_id))


def has_image(db: Database, image_id: Digest) -> bool:
    """Whether an image with this ID is stored."""
    with db.transaction(write=False) as conn:
        row = conn.execute("SELECT 1 FROM images WHERE id = ?", (str(image_id),)).fetchone()
        return row is not None


def _prefix_range(prefix: str) -> tuple[str, str] | None:
    """``[low, high)`` of the IDs starting with ``prefix``; None if it cannot match."""
    algorithm, sep, hex_ = prefix.partition(":")
    if not sep:
        algorithm, hex_ = "sha256", prefix
    if algorithm not in ALGORITHMS or not hex_ or not _HEX.issuperset(hex_):
        return None
    if len(hex_) > ALGORITHMS[algorithm]:
        return None
    low = f"{algorithm}:{hex_}"
    # every character after the prefix is a hex digit, all below "g"
    return low, low + "g"


def find_images(db: Database, prefix: str) -> list[Digest]:
    """Every image ID starting with ``prefix`` (``"3f4"`` or ``"sha256:3f4"``), sorted."""
    bounds = _prefix_range(prefix)
    if bounds is None:
        return []
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id", bounds
        ).fetchall()
    return [Digest.parse(str(r[0])) for r in rows]


def find_image(db: Database, prefix: str) -> ImageRecord:
    """The one image whose ID starts with ``prefix``.

    NotFound if none; InvalidArgument "multiple IDs found with provided
    prefix" if several (Docker's words and kind).
    """
    bounds = _prefix_range(prefix)
    if bounds is None:
        raise NotFound(f"no such image: {prefix}")
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT id FROM images WHERE id >= ? AND id < ? ORDER BY id LIMIT 2", bounds
        ).fetchall()
        if not rows:
            raise NotFound(f"no such image: {prefix}")
        if len(rows) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {prefix}")
        return _get(conn, str(rows[0][0]))


def list_images(db: Database) -> list[ImageRecord]:
    """Every image, newest ``created`` first (then by ID)."""
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            f"SELECT {_IMAGE_COLUMNS} FROM images ORDER BY coalesce(created, added) DESC, id"
        ).fetchall()
        layers: dict[str, list[ImageLayer]] = {}
        for lrow in conn.execute(
            "SELECT image_id, diff_id, chain_id, digest, media_type, size, diff_size"
            " FROM image_layers ORDER BY image_id, idx"
        ):
            layers.setdefault(str(lrow[0]), []).append(_layer_from_row(lrow[1:]))
    return [_image_from_row(r, tuple(layers.get(str(r[0]), ()))) for r in rows]


def children(db: Database, image_id: Digest) -> list[Digest]:
    """The images whose ``parent`` is ``image_id``."""
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT id FROM images WHERE parent = ? ORDER BY id", (str(image_id),)
        ).fetchall()
    return [Digest.parse(str(r[0])) for r in rows]


def images_with_chain_id(db: Database, chain_id: Digest) -> list[Digest]:
    """The images that have a layer with this chain ID."""
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT DISTINCT image_id FROM image_layers WHERE chain_id = ? ORDER BY image_id",
            (str(chain_id),),
        ).fetchall()
    return [Digest.parse(str(r[0])) for r in rows]


def delete_image(db: Database, image_id: Digest) -> list[str]:
    """Delete the image, its layers and its tags; return the references removed."""
    with db.transaction() as conn:
        refs = [
            str(r[0])
            for r in conn.execute(
                "SELECT reference FROM tags WHERE image_id = ? ORDER BY reference",
                (str(image_id),),
            )
        ]
        cur = conn.execute("DELETE FROM images WHERE id = ?", (str(image_id),))
        if cur.rowcount == 0:
            raise NotFound(f"no such image: {image_id}")
        return refs


# -- tags ------------------------------------------------------------------------------


def tag(db: Database, reference: str, image_id: Digest) -> Digest | None:
    """Point ``reference`` at ``image_id``; return the image it pointed to before, if any."""
    if not reference:
        raise InvalidArgument("tag: empty reference")
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM images WHERE id = ?", (str(image_id),)).fetchone() is None:
            raise NotFound(f"no such image: {image_id}")
        row = conn.execute("SELECT image_id FROM tags WHERE reference = ?", (reference,)).fetchone()
        now = time.time()
        conn.execute(
            "INSERT INTO tags (reference, image_id, created) VALUES (?, ?, ?)"
            " ON CONFLICT(reference) DO UPDATE SET image_id = excluded.image_id,"
            " created = excluded.created",
            (reference, str(image_id), now),
        )
        conn.execute("UPDATE images SET last_tagged = ? WHERE id = ?", (now, str(image_id)))
    return Digest.parse(str(row[0])) if row is not None else None


def untag(db: Database, reference: str) -> Digest:
    """Remove ``reference``; return the image it pointed to. NotFound if it does not exist."""
    with db.transaction() as conn:
        row = conn.execute(
            "DELETE FROM tags WHERE reference = ? RETURNING image_id", (reference,)
        ).fetchone()
    if row is None:
        raise NotFound(f"no such image: {reference}")
    return Digest.parse(str(row[0]))


def resolve_tag(db: Database, reference: str) -> Digest:
    """The image ``reference`` points to; NotFound if none."""
    with db.transaction(write=False) as conn:
        row = conn.execute("SELECT image_id FROM tags WHERE reference = ?", (reference,)).fetchone()
    if row is None:
        raise NotFound(f"no such image: {reference}")
    return Digest.parse(str(row[0]))


def tags_for(db: Database, image_id: Digest) -> list[str]:
    """The references pointing to ``image_id``, sorted."""
    with db.transaction(write=False) as conn:
        rows = conn.execute(
            "SELECT reference FROM tags WHERE image_id = ? ORDER BY reference",
            (str(image_id),),
        ).fetchall()
    return [str(r[0]) for r in rows]


def list_tags(db: Database) -> list[tuple[str, Digest]]:
    """Every ``(reference, image ID)``, sorted by reference."""
    with db.transaction(write=False) as conn:
        rows = conn.execute("SELECT reference, image_id FROM tags ORDER BY reference").fetchall()
    return [(str(r[0]), Digest.parse(str(r[1]))) for r in rows]


__all__ = [
    "ImageLayer",
    "ImageRecord",
    "children",
    "delete_image",
    "find_image",
    "find_images",
    "get_image",
    "has_image",
    "images_with_chain_id",
    "list_images",
    "list_tags",
    "put_image",
    "resolve_tag",
    "tag",
    "tags_for",
    "untag",
]
