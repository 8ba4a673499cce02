"""A step's layer: snapshot, mount, work, diff, blob, commit; and the build-cache lease.

``execute`` prepares an active snapshot on the stage's layer chain, mounts
it at ``<work>/<id>/rootfs`` (that dir is also the RUN's OCI bundle), runs
the step's file work, unmounts, writes the snapshot's diff (the overlay
upper dir as an OCI layer tar) into the content store as an uncompressed
layer blob, and commits the snapshot as the layer of that chain ID (a
rename: the data is not copied). A diff with no entries makes no layer (an
``empty_layer`` history entry). Whatever happens, the mount, the snapshot
(unless committed) and the work dir are removed.

Layer blobs and snapshots a cache row names are held by one lease that
never expires, ``hull-build-cache``: ``gc`` and ``rmi`` leave them alone
until ``prune_cache`` drops the rows and their lease resources.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hull import metadata as md
from hull.build.runner import RunFailed, Stubs, run_container, run_spec
from hull.build.state import FsContext
from hull.errors import AlreadyExists, HullError, NotFound
from hull.oci import media_types as mt
from hull.snapshots import compute_chain_id

if TYPE_CHECKING:
    from hull.build.builder import Builder
    from hull.build.runner import RunRequest
    from hull.build.state import StageState, Step
    from hull.images.service import ImageService, LayerBlob
    from hull.metadata import CacheEntry, ImageLayer
    from hull.oci.digest import Digest

__all__ = [
    "CACHE_LEASE",
    "blob_of",
    "blob_of_entry",
    "cache_lease",
    "execute",
    "present",
    "prune_cache",
    "run_step",
    "view",
]

CACHE_LEASE = "hull-build-cache"


def cache_lease(images: ImageService) -> str:
    """The id of the build cache's lease (made on first use)."""
    try:
        md.get_lease(images.db, CACHE_LEASE)
    except NotFound:
        with contextlib.suppress(AlreadyExists):
            md.create_lease(images.db, CACHE_LEASE, labels={"hull.build": "cache"})
    return CACHE_LEASE


def blob_of(layer: ImageLayer) -> LayerBlob:
    """An image's layer as ``create_image`` takes it."""
    from hull.images.service import LayerBlob

    if layer.digest is None:
        raise NotFound(f"layer {layer.diff_id} has no blob to build on")
    return LayerBlob(layer.digest, layer.diff_id, layer.size,
                     layer.media_type or mt.OCI_LAYER_GZIP, layer.diff_size)  # fmt: skip


def blob_of_entry(entry: CacheEntry) -> LayerBlob | None:
    """The layer a cache row recorded (None: the step made no layer)."""
    from hull.images.service import LayerBlob

    if entry.chain_id is None or entry.digest is None or entry.diff_id is None:
        return None
    return LayerBlob(entry.digest, entry.diff_id, entry.size,
                     entry.media_type or mt.OCI_LAYER, entry.diff_size)  # fmt: skip


def present(images: ImageService, entry: CacheEntry) -> bool:
    """Whether a cached layer is still there (blob and snapshot)."""
    if entry.chain_id is None or entry.digest is None:
        return True
    return images.snapshots.has_layer(entry.chain_id) and images.content.exists(entry.digest)


def _empty_tar(f: Any) -> bool:
    head = f.read(512)
    return len(head) < 512 or head == b"\0" * 512


def _safe_rmtree(work: Path, mountpoint: Path) -> None:
    # never delete through a mount that failed to come off
    if not os.path.ismount(mountpoint):
        shutil.rmtree(work, ignore_errors=True)


def execute(b: Builder, step: Step, st: StageState) -> tuple[LayerBlob | None, Digest | None]:
    """Run the step's file work on a new snapshot; its layer and chain ID (None: no change)."""
    assert step.fs is not None
    images = b.images
    snaps = images.snapshots
    sid = f"build-{uuid.uuid4().hex}"
    work = b.work_root / sid
    rootfs = work / "rootfs"
    rootfs.mkdir(parents=True)
    snaps.prepare(sid, st.chain)
    mounted = committed = False
    try:
        snaps.mount(sid, rootfs)
        mounted = True
        step.fs(FsContext(rootfs, work, sid))
        b.check_cancel()
        snaps.unmount(rootfs)
        mounted = False
        with tempfile.TemporaryFile(dir=work) as f:
            snaps.diff(sid, f)
            f.seek(0)
            if _empty_tar(f):
                return None, None
            f.seek(0)
            lease = cache_lease(images)
            blob = images.add_layer(f, lease=lease)
        chain = compute_chain_id(st.chain, blob.diff_id)
        md.add_lease_resource(images.db, lease, "snapshot", str(chain))
        snaps.commit(sid, chain)
        committed = True
        return blob, chain
    finally:
        if mounted:
            with contextlib.suppress(HullError, OSError):
                snaps.unmount(rootfs, detach=True)
        if not committed:
            with contextlib.suppress(HullError, OSError):
                snaps.remove(sid)
        _safe_rmtree(work, rootfs)


@contextlib.contextmanager
def view(images: ImageService, work_root: Path, chain: Digest | None) -> Iterator[Path]:
    """A read-only mount of ``chain`` (an empty dir for None), removed afterwards."""
    key = f"view-{uuid.uuid4().hex}"
    work = work_root / key
    root = work / "rootfs"
    root.mkdir(parents=True)
    if chain is None:
        try:
            yield root
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    images.snapshots.view(key, chain)
    mounted = False
    try:
        images.snapshots.mount(key, root)
        mounted = True
        yield root
    finally:
        if mounted:
            with contextlib.suppress(HullError, OSError):
                images.snapshots.unmount(root, detach=True)
        with contextlib.suppress(HullError, OSError):
            images.snapshots.remove(key)
        _safe_rmtree(work, root)


def run_step(b: Builder, fs: FsContext, req: RunRequest, n: int) -> None:
    """Run a RUN container on the mounted snapshot; RunFailed on a non-zero exit."""
    spec = run_spec(fs.rootfs, req, f"/hull/{fs.step_id}")
    stubs = Stubs(fs.rootfs, [str(m["destination"]) for m in spec["mounts"]])
    tail: collections.deque[str] = collections.deque(maxlen=20)

    def out(line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        tail.append(text)
        b.emit({"type": "output", "n": n, "data": text})

    try:
        code = run_container(b.runtime, b.work_root / "runtime", fs.bundle, spec, fs.step_id,
                             on_output=out, cancelled=b.cancel.is_set)  # fmt: skip
    finally:
        stubs.remove()
    b.check_cancel()
    if code != 0:
        shown = " ".join(req.args)
        raise RunFailed(
            f'process "{shown}" did not complete successfully: exit code: {code}',
            code,
            "".join(tail),
        )


def prune_cache(images: ImageService) -> dict[str, Any]:
    """Drop every build cache row and its lease; then collect what nothing else holds."""
    rows = md.list_cache_entries(images.db)
    md.delete_cache_entries(images.db, [r.key for r in rows])
    with contextlib.suppress(NotFound):
        md.delete_lease(images.db, CACHE_LEASE)
    removed = images.gc()
    gone = set(removed.get("Snapshots", []))
    reclaimed = sum(r.diff_size for r in rows if r.chain_id is not None and str(r.chain_id) in gone)
    return {
        "CachesDeleted": [r.key for r in rows if r.kind == "layer"],
        "SpaceReclaimed": reclaimed,
    }
