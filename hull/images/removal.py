"""Removing images: ``remove`` (Docker's ``rmi`` rules), ``prune``, ``disk_usage`` and ``gc``.

Functions bound as methods of :class:`hull.images.service.ImageService`
(``self`` is the service), as :mod:`hull.engine.supervise` is for the
engine. ``remove`` follows Docker's daemon (``daemon/images/image_delete``):
untag first, delete only what no tag or container still needs, with
Docker's conflict messages; ``gc`` removes blobs and snapshots nothing
references, under the lock that keeps it from racing a pull.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hull import metadata as md
from hull.errors import Conflict, NotFound
from hull.images import inspect as shapes
from hull.images.reference import Reference, parse_reference
from hull.metadata import ImageRecord
from hull.oci.digest import Digest
from hull.snapshots import Kind

if TYPE_CHECKING:
    from hull.images.service import ImageService


@dataclass(frozen=True)
class UsedBy:
    """What ``in_use`` may answer: the container that uses an image."""

    container_id: str
    running: bool = False


InUse = Callable[[str], "bool | str | UsedBy | None"]


def image_users(db: md.Database, image_id: str) -> list[UsedBy]:
    """The containers made from an image (in the one database), for ``in_use``."""
    out = []
    for cid in md.containers_using_image(db, image_id):
        with contextlib.suppress(NotFound):  # removed meanwhile
            out.append(UsedBy(cid, bool(md.get_container(db, cid).state.get("Running"))))
    return out


def short_id(value: str | Digest) -> str:
    """Docker's 12-hex short id (``stringid.TruncateID``)."""
    text = str(value)
    return text.partition(":")[2][:12] if ":" in text else text[:12]


def _used_by(in_use: InUse, image_id: Digest) -> UsedBy | None:
    answer = in_use(str(image_id))
    if not answer:
        return None
    if isinstance(answer, UsedBy):
        return answer
    return UsedBy(answer if isinstance(answer, str) else "")


def refs(self: ImageService, image_id: Digest) -> list[Reference]:
    return [parse_reference(r, default_tag=None) for r in md.tags_for(self.db, image_id)]


def dangling(self: ImageService, image_id: Digest) -> bool:
    return not md.tags_for(self.db, image_id) and not md.children(self.db, image_id)


def conflict(
    self: ImageService, image_id: Digest, in_use: InUse, *, soft: bool, active_ref: bool
) -> tuple[str, bool] | None:
    """Docker's ``checkImageDeleteConflict``: (message, used) or None."""
    sid = short_id(image_id)
    if md.children(self.db, image_id):
        return (
            f"conflict: unable to delete {sid} (cannot be forced)"
            " - image has dependent child images",
            False,
        )
    user = _used_by(in_use, image_id)
    if user is not None and user.running:
        return (
            f"conflict: unable to delete {sid} (cannot be forced) - image is being used by "
            f"running container {short_id(user.container_id)}",
            True,
        )
    if soft and active_ref and md.tags_for(self.db, image_id):
        return (
            f"conflict: unable to delete {sid} (must be forced)"
            " - image is referenced in multiple repositories",
            False,
        )
    if soft and user is not None:
        return (
            f"conflict: unable to delete {sid} (must be forced) - image is being used by "
            f"stopped container {short_id(user.container_id)}",
            True,
        )
    return None


def remove(
    self: ImageService,
    ref_or_id: str,
    *,
    force: bool = False,
    in_use: InUse = lambda _: False,
    prune: bool = True,
) -> list[dict[str, str]]:
    """``docker rmi``: untag a name, or delete the image when nothing else names or uses it.

    ``in_use(image_id)`` answers whether a container uses the image: a bool,
    the container's id, or a ``UsedBy`` (a running container's use cannot
    be forced). Returns Docker's ``[{"Untagged": …}, {"Deleted": …}]``.
    """
    record = self.resolve(ref_or_id)
    image_id = record.id
    refs = self._refs(image_id)
    out: list[dict[str, str]] = []
    by_id = str(image_id).startswith(ref_or_id) or image_id.hex.startswith(ref_or_id)
    if not by_id:
        if not force and _single_reference(refs):
            user = _used_by(in_use, image_id)
            if user is not None:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{ref_or_id}" (must '
                    f"force) - container {short_id(user.container_id)} is using its "
                    f"referenced image {short_id(image_id)}"
                )
        parsed = parse_reference(ref_or_id)
        md.untag(self.db, str(parsed))
        out.append({"Untagged": parsed.familiar()})
        refs = self._refs(image_id)
        if parsed.digest is None and not any(
            r.digest is None and r.name == parsed.name for r in refs
        ):
            # the last tag of this repository: its digest references go too
            for r in [r for r in refs if r.digest is not None and r.name == parsed.name]:
                md.untag(self.db, str(r))
                out.append({"Untagged": r.familiar()})
            refs = self._refs(image_id)
        if refs:
            return out
        self._delete(record, out, force, in_use, prune, quiet=True)
        return out
    if _single_reference(refs):
        conflict = self._conflict(image_id, in_use, soft=not force, active_ref=False)
        if conflict is not None:
            raise Conflict(conflict[0])
        for r in refs:
            md.untag(self.db, str(r))
            out.append({"Untagged": r.familiar()})
    self._delete(record, out, force, in_use, prune, quiet=False)
    return out


def delete(
    self: ImageService,
    record: ImageRecord,
    out: list[dict[str, str]],
    force: bool,
    in_use: InUse,
    prune: bool,
    *,
    quiet: bool,
) -> int:
    """Docker's ``imageDeleteHelper``; returns the bytes reclaimed."""
    conflict = self._conflict(record.id, in_use, soft=not force, active_ref=True)
    if conflict is not None:
        if quiet and (not self._dangling(record.id) or conflict[1]):
            return 0
        raise Conflict(conflict[0])
    for ref in self._refs(record.id):
        md.untag(self.db, str(ref))
        out.append({"Untagged": ref.familiar()})
    with self._gc_lock(shared=False):
        md.delete_image(self.db, record.id)
        out.append({"Deleted": str(record.id)})
        reclaimed = self._release(record, out)
    if prune and record.parent is not None:
        with contextlib.suppress(NotFound):
            parent = md.get_image(self.db, record.parent)
            if self._dangling(parent.id):
                reclaimed += self._delete(parent, out, False, in_use, True, quiet=True)
    return reclaimed


def release(self: ImageService, record: ImageRecord, out: list[dict[str, str]]) -> int:
    """Delete the blobs and layer snapshots of a deleted image that nothing else holds."""
    blobs = md.referenced_blobs(self.db)
    chains = md.referenced_chain_ids(self.db)
    reclaimed = 0
    for digest in (record.id, record.manifest_digest, *(x.digest for x in record.layers)):
        if digest is not None and digest not in blobs:
            with contextlib.suppress(NotFound):
                size = self.content.info(digest).size
                self.content.delete(digest)
                reclaimed += size
    for layer in reversed(record.layers):
        if str(layer.chain_id) in chains or not self.snapshots.has_layer(layer.chain_id):
            continue
        try:
            self.snapshots.remove(layer.chain_id)
        except Conflict:
            break  # a container's snapshot sits on it; gc() retries later
        out.append({"Deleted": str(layer.chain_id)})
        reclaimed += layer.diff_size
    return reclaimed


def prune(
    self: ImageService, *, all: bool = False, in_use: InUse = lambda _: False
) -> dict[str, Any]:
    """``docker image prune [-a]``: dangling images (or every unused one), Docker's answer."""
    deleted: list[dict[str, str]] = []
    reclaimed = 0
    tried: set[Digest] = set()
    while True:
        heads = [
            r
            for r in md.list_images(self.db)
            if r.id not in tried and not md.children(self.db, r.id)
        ]
        if not heads:
            break
        for record in heads:
            tried.add(record.id)
            if _used_by(in_use, record.id) is not None:
                continue
            refs = self._refs(record.id)
            if refs and not all:
                continue
            with contextlib.suppress(Conflict, NotFound):
                out: list[dict[str, str]] = []
                for ref in refs:
                    md.untag(self.db, str(ref))
                    out.append({"Untagged": ref.familiar()})
                reclaimed += self._delete(record, out, False, in_use, True, quiet=False)
                deleted.extend(out)
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def disk_usage(self: ImageService, in_use: Callable[[str], int] = lambda _: 0) -> dict[str, Any]:
    """``docker system df`` for images: LayersSize and the images with Shared/Unique size."""
    records = md.list_images(self.db)
    users: dict[Digest, int] = {}
    for r in records:
        for layer in r.layers:
            users[layer.chain_id] = users.get(layer.chain_id, 0) + 1
    layers_size = 0
    for info in self.snapshots.list():
        if info.kind is Kind.COMMITTED:
            layers_size += self.snapshots.usage(info.name).size
    images = []
    for r in records:
        summary = shapes.image_summary(r, md.tags_for(self.db, r.id), containers=in_use(str(r.id)))
        shared = sum(x.diff_size for x in r.layers if users[x.chain_id] > 1)
        summary["SharedSize"] = shared
        images.append(summary)
    content = sum(self.content.info(d).size for d in self.content.list())
    return {"LayersSize": layers_size, "ContentSize": content, "Images": images}


def gc(self: ImageService, *, stale_ingest_seconds: float | None = None) -> dict[str, list[str]]:
    """Delete blobs and layer snapshots that no image and no live lease holds.

    Also removes abandoned ingests (idle past ``stale_ingest_seconds``,
    the store's default if None) and what crashed snapshot writers left.
    """
    with self._gc_lock(shared=False):
        md.expire_leases(self.db)
        roots = md.referenced_blobs(self.db)
        kw = {} if stale_ingest_seconds is None else {"stale_ingest_seconds": stale_ingest_seconds}
        blobs = self.content.gc(roots, **kw)
        keep = md.referenced_chain_ids(self.db)
        removed: list[str] = []
        progress = True
        while progress:  # children before parents
            progress = False
            for info in self.snapshots.list():
                if info.kind is Kind.COMMITTED and info.name not in keep:
                    with contextlib.suppress(Conflict, NotFound):
                        self.snapshots.remove(info.name)
                        removed.append(info.name)
                        progress = True
        self.snapshots.cleanup()
    return {"Blobs": [str(d) for d in blobs], "Snapshots": removed}


def _single_reference(refs: list[Reference]) -> bool:
    """Docker's ``isSingleReference``: one tag at most, all names in one repository."""
    if len(refs) <= 1:
        return len(refs) == 1
    single: Reference | None = None
    names: set[str] = set()
    for r in refs:
        if r.digest is not None:
            names.add(r.name)
        elif single is None:
            names.add(r.name)
            single = r
        else:
            return False
    if single is None:
        single = refs[0]
    return len(names) == 1 and single.name in names


__all__ = ["InUse", "UsedBy", "image_users", "short_id"]
