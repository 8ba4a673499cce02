"""The images service: images over the content store, the snapshotter and the database.

``ImageService(data_root)`` owns ``<data_root>/content`` (blobs),
``<data_root>/snapshots`` (unpacked layers by chain ID) and
``<data_root>/hull.db`` (images, tags, leases) and is the only writer of
image rows. Every writing operation follows one order, so that a crash at
any point leaves at worst unreferenced blobs and snapshots, which ``gc()``
removes::

    lease (DB, expiring) ─► blobs (verified, atomic) ─► snapshots ─► image + tags (one txn)

The lease names each blob and snapshot *before* it is committed, so a
concurrent ``gc()`` never deletes fresh content. Layers are stored as they
arrive: a gzip or zstd layer stays compressed, an uncompressed tar (docker
archives) stays a plain tar (``compress=True`` gzips it instead); the diff ID
is computed in the same streaming pass. Names and lookups follow Docker's
daemon (``daemon/images``): see ``resolve`` and ``remove``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import io
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from hull import metadata as md
from hull.archive import compress_stream, detect_compression
from hull.content import LocalStore, Writer
from hull.errors import Internal, InvalidArgument, NotFound
from hull.images import inspect as shapes
from hull.images import removal as rm
from hull.images.reference import Reference, parse_any_reference, parse_reference
from hull.images.removal import InUse, UsedBy, short_id
from hull.images.streams import BlobSink, LayerDecoder, Prefixed, Tee, as_stream
from hull.metadata import Database, ImageLayer, ImageRecord
from hull.oci import media_types as mt
from hull.oci.digest import Digest, Digester
from hull.oci.image_config import ImageConfig, chain_ids
from hull.oci.image_spec import Descriptor, Manifest
from hull.snapshots import Mount, Snapshotter, compute_chain_id, create_snapshotter

CHUNK = 1 << 20
LEASE_SECONDS = 3600.0  # how long an operation's blobs stay protected if it crashes

_TO_DOCKER = {
    mt.OCI_LAYER_GZIP: mt.DOCKER_LAYER_GZIP,
    mt.OCI_LAYER: mt.DOCKER_LAYER,
    mt.OCI_CONFIG: mt.DOCKER_CONFIG,
}
_LAYER_TYPE = {
    ("oci", "gzip"): mt.OCI_LAYER_GZIP,
    ("oci", "zstd"): mt.OCI_LAYER_ZSTD,
    ("oci", "none"): mt.OCI_LAYER,
    ("docker", "gzip"): mt.DOCKER_LAYER_GZIP,
    ("docker", "none"): mt.DOCKER_LAYER,
    ("docker", "zstd"): mt.OCI_LAYER_ZSTD,
}


@dataclass(frozen=True)
class LayerBlob:
    """A layer stored in the content store: its blob and its uncompressed diff."""

    digest: Digest
    diff_id: Digest
    size: int
    media_type: str
    diff_size: int = 0
    lease: str | None = None  # the lease add_layer made for it; create_image ends it


class ImageService:
    """Images in one data root; see the module docstring for the write order."""

    def __init__(self, data_root: Path, *, snapshotter: str = "auto", durable: bool = True) -> None:
        self.data_root = Path(data_root)
        self.data_root.mkdir(parents=True, exist_ok=True)
        self.content = LocalStore(self.data_root / "content")
        self.snapshots: Snapshotter = create_snapshotter(
            self.data_root / "snapshots", snapshotter, durable=durable
        )
        self.db = Database.open_data_root(self.data_root)

    def close(self) -> None:
        """Close the database connections."""
        self.db.close()

    def __enter__(self) -> ImageService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- leases ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def lease(self, seconds: float = LEASE_SECONDS) -> Iterator[str]:
        """A GC lease for the block (expiring after ``seconds`` if we crash)."""
        lease = md.create_lease(
            self.db, expires=time.time() + seconds, labels={"hull.images": "operation"}
        )
        try:
            yield lease.id
        finally:
            with contextlib.suppress(NotFound):
                md.delete_lease(self.db, lease.id)

    @contextlib.contextmanager
    def _gc_lock(self, *, shared: bool) -> Iterator[None]:
        """Writers share it while they publish; ``gc`` and deletions take it alone.

        A lease names a blob before it is committed, but a collector that read
        its roots just before would still delete it: this lock orders the two.
        """
        fd = os.open(self.data_root / "gc.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _hold(self, lease: str | None, kind: str, key: str) -> None:
        if lease is not None:
            md.add_lease_resource(self.db, lease, kind, key)

    # -- blobs ----------------------------------------------------------------------------

    def put_blob(self, data: bytes, *, lease: str | None = None) -> Descriptor:
        """Store a small blob (config, manifest) under ``lease``; its descriptor (type unset)."""
        d = Digester()
        d.update(data)
        digest = d.digest()
        self._hold(lease, "content", str(digest))
        if not self.content.exists(digest):
            self.content.ingest(io.BytesIO(data), digest, len(data))
        return Descriptor("application/octet-stream", digest, len(data))

    def add_layer(
        self,
        stream: BinaryIO,
        *,
        media_type: str | None = None,
        compress: bool = False,
        expected_digest: Digest | None = None,
        expected_diff_id: Digest | None = None,
        lease: str | None = None,
        unpack_on: Digest | bool | None = False,
        ingest: Writer | None = None,
        parent_ready: Callable[[], None] | None = None,
    ) -> LayerBlob:
        """Store a layer tar (gzip, zstd or plain, by magic bytes) in one streaming pass.

        ``media_type`` picks the family (``oci`` unless a Docker type is given);
        its compression follows the bytes. Without ``lease`` the blob is held
        by a lease of its own for an hour, long enough for ``create_image``.
        ``unpack_on`` (a parent chain ID, or None for a base layer; False: no)
        unpacks the layer into the snapshotter in the same pass. ``ingest`` is
        the content writer that ``stream``'s bytes are already going into (a
        pull's download spool, best made with ``hashed=False``: the blob is
        hashed here, with its tar): it is committed when the stream ends,
        instead of a copy of its own; on an error it stays the caller's to
        abort or keep. ``parent_ready``: the parent layer is still being
        unpacked by another thread (see ``Snapshotter.unpack_layer``).
        """
        own = None
        if lease is None:
            own = lease = md.create_lease(
                self.db, expires=time.time() + LEASE_SECONDS, labels={"hull.images": "layer"}
            ).id
        with self._gc_lock(shared=True):
            try:
                blob = self._add_layer(
                    stream,
                    media_type,
                    compress,
                    expected_digest,
                    expected_diff_id,
                    lease,
                    unpack_on,
                    ingest,
                    parent_ready,
                )
            except BaseException:
                if own is not None:
                    with contextlib.suppress(NotFound):
                        md.delete_lease(self.db, own)
                raise
            return dataclasses.replace(blob, lease=own)

    def _add_layer(
        self,
        stream: BinaryIO,
        media_type: str | None,
        compress: bool,
        expected_digest: Digest | None,
        expected_diff_id: Digest | None,
        lease: str,
        unpack_on: Digest | bool | None,
        ingest: Writer | None,
        parent_ready: Callable[[], None] | None = None,
    ) -> LayerBlob:
        family = (
            "docker" if media_type and media_type.startswith("application/vnd.docker") else "oci"
        )
        first = b""
        while len(first) < 8 and (more := stream.read(8 - len(first))):
            first += more
        comp = detect_compression(first)
        src = as_stream(Prefixed(first, stream))
        if ingest is not None and compress and comp == "none":
            raise InvalidArgument("add_layer: an ingest holds the bytes as they are, not gzipped")
        ref = f"layer-{uuid.uuid4().hex}"
        # every byte stored is hashed on its way here (below), not by the writer
        writer = ingest or self.content.writer(ref, expected_digest, hashed=False)
        try:
            if compress and comp == "none":
                tee = Tee(src, lambda b: None)  # reads the plain tar, hashes the diff
                out = BlobSink(writer)
                gz = compress_stream(out.stream(), "gzip")
                while chunk := tee.read(CHUNK):
                    gz.write(chunk)
                gz.close()
                diff_id, diff_size = tee.digester.digest(), tee.digester.size
                digest, size, comp = out.digester.digest(), out.digester.size, "gzip"
            else:
                # the blob (as stored) and its tar are hashed together by the
                # decoder; an ingest given has the bytes already (a pull's spool)
                raw = src
                if ingest is None:
                    raw = as_stream(Tee(src, writer.write, hashing=False))
                dec = LayerDecoder(raw, comp)
                if unpack_on is not False:
                    parent = unpack_on if isinstance(unpack_on, Digest) else None
                    if expected_diff_id is None:
                        raise InvalidArgument("add_layer: unpacking needs the expected diff ID")
                    chain = compute_chain_id(parent, expected_diff_id)
                    self._hold(lease, "snapshot", str(chain))
                    info = self.snapshots.unpack_layer(
                        chain, parent, as_stream(dec), compression="none",
                        expected_diff_id=expected_diff_id, hashed_by=dec.diff_digest,
                        parent_ready=parent_ready,
                    )  # fmt: skip
                    if dec.diff_size == 0:  # the layer existed: verify what we store anyway
                        dec.drain()
                        diff_id, diff_size = dec.diff_digest()
                    else:
                        diff_id, diff_size = info.diff_id, info.size
                else:
                    dec.drain()
                    diff_id, diff_size = dec.diff_digest()
                dec.finish()  # bytes after the end of the compressed stream
                digest, size = dec.blob_digest(), dec.blob_size
            if expected_diff_id is not None and diff_id != expected_diff_id:
                raise InvalidArgument(
                    f"layer {expected_digest or digest}: content has diff ID {diff_id},"
                    f" expected {expected_diff_id}"
                )
            if expected_digest is not None and digest != expected_digest:
                raise InvalidArgument(
                    f"layer blob: digest mismatch: {digest}, expected {expected_digest}"
                )
            if size != writer.offset:
                raise Internal(f"layer blob: hashed {size} bytes but {writer.offset} are stored")
            # the shared GC lock held by add_layer keeps the new blob until held
            writer.commit(digest)
            self._hold(lease, "content", str(digest))
        except BaseException:
            if ingest is None:
                writer.close()
                with contextlib.suppress(NotFound):
                    self.content.abort(ref)
            raise
        return LayerBlob(digest, diff_id, size, _LAYER_TYPE[family, comp], diff_size)

    # -- images ---------------------------------------------------------------------------

    def create_image(
        self,
        config: ImageConfig | bytes,
        layers: Iterable[LayerBlob],
        *,
        tags: Iterable[str] = (),
        manifest_media_type: str = mt.OCI_MANIFEST,
        parent: Digest | None = None,
        lease: str | None = None,
    ) -> ImageRecord:
        """Write the config and manifest blobs, then the image and its tags in one transaction."""
        config_bytes = config.to_bytes() if isinstance(config, ImageConfig) else bytes(config)
        parsed = ImageConfig.from_bytes(config_bytes)
        layers = list(layers)
        if list(parsed.rootfs.diff_ids) != [layer.diff_id for layer in layers]:
            raise InvalidArgument(
                "image config: rootfs.diff_ids do not match the layers given "
                f"({len(parsed.rootfs.diff_ids)} diff IDs, {len(layers)} layers)"
            )
        refs = [self._tag_ref(t) for t in tags]
        docker = manifest_media_type == mt.DOCKER_MANIFEST
        with contextlib.ExitStack() as stack:
            stack.enter_context(self._gc_lock(shared=True))
            if lease is None:
                lease = stack.enter_context(self.lease())
            for layer in layers:
                self._hold(lease, "content", str(layer.digest))
                if not self.content.exists(layer.digest):
                    raise NotFound(f"layer blob {layer.digest} is missing from the content store")
            cdesc = self.put_blob(config_bytes, lease=lease)
            manifest = Manifest(
                config=Descriptor(
                    mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG, cdesc.digest, cdesc.size
                ),
                layers=tuple(
                    Descriptor(
                        _TO_DOCKER.get(layer.media_type, layer.media_type)
                        if docker
                        else layer.media_type,
                        layer.digest,
                        layer.size,
                    )
                    for layer in layers
                ),
                media_type=manifest_media_type,
            )
            mdesc = self.put_blob(manifest.to_bytes(), lease=lease)
            chains = chain_ids(parsed.rootfs.diff_ids)
            labels = dict(parsed.config.labels)
            record = ImageRecord(
                id=cdesc.digest,
                config=config_bytes,
                layers=tuple(
                    ImageLayer(lyr.diff_id, c, lyr.digest, lyr.media_type, lyr.size, lyr.diff_size)
                    for lyr, c in zip(layers, chains, strict=True)
                ),
                manifest_digest=mdesc.digest,
                created=shapes.parse_time(parsed.created),
                size=sum(layer.diff_size for layer in layers),
                parent=parent,
                labels=labels,
            )
            with self.db.transaction():
                md.put_image(self.db, record)
                for ref in refs:
                    md.tag(self.db, str(ref), record.id)
                for layer in layers:  # the image holds them now
                    if layer.lease is not None:
                        with contextlib.suppress(NotFound):
                            md.delete_lease(self.db, layer.lease)
        return md.get_image(self.db, record.id)

    @staticmethod
    def _tag_ref(target: str) -> Reference:
        ref = parse_reference(target)
        if ref.digest is not None:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        return ref

    def resolve(self, name_or_id: str) -> ImageRecord:
        """Docker's ``GetImage``: a digest/ID, a reference (default tag), or an ID prefix."""
        ref = parse_any_reference(name_or_id, default_tag=None)
        if isinstance(ref, Digest):
            try:
                return md.get_image(self.db, ref)
            except NotFound:
                raise NotFound(f"No such image: {ref}") from None
        lookup = ref.without_tag() if ref.digest is not None else ref
        if lookup.is_name_only():
            lookup = lookup.with_tag("latest")
        try:
            return md.get_image(self.db, md.resolve_tag(self.db, str(lookup)))
        except NotFound:
            pass
        ids = md.find_images(self.db, name_or_id)
        if len(ids) == 1:
            return md.get_image(self.db, ids[0])
        shown = ref.with_tag("latest") if ref.is_name_only() else ref
        raise NotFound(f"No such image: {shown.familiar()}")

    def get(self, image_id: Digest) -> ImageRecord:
        """The image with this exact ID."""
        return md.get_image(self.db, image_id)

    def references(self, image_id: Digest) -> list[str]:
        """Full stored references (tags and digests) of an image."""
        return md.tags_for(self.db, image_id)

    def tag(self, source: str, target: str) -> Reference:
        """``docker tag SOURCE TARGET``; returns the normalised target."""
        image = self.resolve(source)
        ref = self._tag_ref(target)
        md.tag(self.db, str(ref), image.id)
        return ref

    def untag(self, reference: str) -> Digest:
        """Remove one name; return the image it named (which stays, even if dangling)."""
        ref = parse_reference(reference)
        try:
            return md.untag(self.db, str(ref))
        except NotFound:
            raise NotFound(f"No such image: {ref.familiar()}") from None

    def list_images(
        self, filters: Mapping[str, Iterable[str]] | None = None, *, all: bool = False
    ) -> list[dict[str, Any]]:
        """``docker images``: Docker's ImageSummary list; filters dangling, reference, label, …"""
        return shapes.list_summaries(self.db, filters or {}, all=all, resolve=self.resolve)

    def inspect(self, name_or_id: str) -> dict[str, Any]:
        """``docker image inspect``: Docker's ImageInspect."""
        record = self.resolve(name_or_id)
        data: dict[str, str] = {}
        layer_dir = getattr(self.snapshots, "layer_dir", None)
        if record.layers and layer_dir is not None:
            dirs = [str(layer_dir(layer.chain_id) / "diff") for layer in record.layers]
            if all(Path(d).is_dir() for d in dirs):
                data["UpperDir"] = dirs[-1]
                if len(dirs) > 1:
                    data["LowerDir"] = ":".join(reversed(dirs[:-1]))
        return shapes.inspect_image(
            record, md.tags_for(self.db, record.id), driver=self.snapshots.driver, driver_data=data
        )

    def history(self, name_or_id: str) -> list[dict[str, Any]]:
        """``docker history``: newest first; the top entries carry the image IDs and tags."""
        return shapes.history(self.db, self.resolve(name_or_id))

    # -- removal, prune, disk usage, gc (in removal.py) ---------------------------------

    _refs = rm.refs
    _dangling = rm.dangling
    _conflict = rm.conflict
    remove = rm.remove
    _delete = rm.delete
    _release = rm.release
    prune = rm.prune
    disk_usage = rm.disk_usage
    gc = rm.gc

    # -- unpacking ------------------------------------------------------------------------

    def unpack(self, name_or_id: str | ImageRecord) -> Digest | None:
        """Ensure every layer is in the snapshotter; the top chain ID (None: no layers)."""
        record = name_or_id if isinstance(name_or_id, ImageRecord) else self.resolve(name_or_id)
        parent: Digest | None = None
        with self._gc_lock(shared=True), self.lease() as lease:
            for layer in record.layers:
                self._hold(lease, "snapshot", str(layer.chain_id))
                if not self.snapshots.has_layer(layer.chain_id):
                    if layer.digest is None:
                        raise NotFound(f"image {record.id}: layer {layer.diff_id} has no blob")
                    with self.content.open(layer.digest) as blob:
                        self.snapshots.unpack_layer(
                            layer.chain_id, parent, blob, expected_diff_id=layer.diff_id
                        )
                parent = layer.chain_id
        return parent

    def prepare_rootfs(self, key: str, name_or_id: str | ImageRecord) -> list[Mount]:
        """A writable snapshot ``key`` on the image's layers, for a container; its mounts."""
        return self.snapshots.prepare(key, self.unpack(name_or_id))


__all__ = ["LEASE_SECONDS", "ImageService", "InUse", "LayerBlob", "UsedBy", "short_id"]
