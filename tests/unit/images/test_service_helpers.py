"""Shared builders for the images service tests."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterable

from hull.images import ImageRecord, ImageService
from hull.oci.image_config import ContainerConfig, History, ImageConfig, RootFS


def layer_tar(files: dict[str, bytes]) -> bytes:
    """A small uncompressed layer tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_image(
    svc: ImageService,
    seed: str,
    tags: Iterable[str] = (),
    *,
    n_layers: int = 2,
    created: str = "2024-01-01T00:00:00Z",
    labels: dict[str, str] | None = None,
    parent: ImageRecord | None = None,
) -> ImageRecord:
    """An image whose layers' content derives from ``seed`` (gzip layers)."""
    blobs = []
    if parent is not None:
        blobs = [
            svc_blob(svc, layer.digest)
            for layer in parent.layers
            if layer.digest is not None  # the parent's layers, shared
        ]
    for i in range(n_layers):
        data = layer_tar({f"{seed}-{i}": f"{seed} layer {i}".encode()})
        blobs.append(svc.add_layer(io.BytesIO(gzip.compress(data, mtime=0))))
    config = ImageConfig(
        architecture="amd64",
        os="linux",
        rootfs=RootFS(tuple(b.diff_id for b in blobs)),
        config=ContainerConfig(cmd=("sh",), labels=labels or {}),
        created=created,
        history=tuple(History(created=created, created_by=f"layer {i}") for i in range(len(blobs))),
    )
    return svc.create_image(
        config, blobs, tags=tags, parent=parent.id if parent is not None else None
    )


def svc_blob(svc: ImageService, digest: object) -> object:
    """The LayerBlob of a stored image layer (for sharing layers between images)."""
    from hull import metadata as md
    from hull.images import LayerBlob

    for record in md.list_images(svc.db):
        for layer in record.layers:
            if layer.digest == digest:
                assert layer.media_type is not None
                return LayerBlob(
                    layer.digest, layer.diff_id, layer.size, layer.media_type, layer.diff_size
                )
    raise AssertionError(f"no layer {digest}")
