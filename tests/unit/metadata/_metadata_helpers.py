"""Shared builders for the metadata tests."""

from __future__ import annotations

import json

from hull.metadata import ImageLayer, ImageRecord
from hull.oci.digest import Digest, digest_bytes
from hull.oci.image_config import chain_ids


def make_image(seed: str, n_layers: int = 2, **kw: object) -> ImageRecord:
    """A self-consistent image record whose content derives from ``seed``."""
    diff_ids = [digest_bytes(f"{seed}-diff-{i}".encode()) for i in range(n_layers)]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [str(d) for d in diff_ids]},
        }
    ).encode()
    layers = tuple(
        ImageLayer(
            diff_id=d,
            chain_id=c,
            digest=digest_bytes(f"{seed}-blob-{i}".encode()),
            media_type="application/vnd.oci.image.layer.v1.tar+gzip",
            size=100 + i,
            diff_size=200 + i,
        )
        for i, (d, c) in enumerate(zip(diff_ids, chain_ids(diff_ids), strict=True))
    )
    fields: dict[str, object] = {
        "id": digest_bytes(config),
        "config": config,
        "layers": layers,
        "manifest_digest": digest_bytes(f"{seed}-manifest".encode()),
        "created": 1700000000.0,
        "size": sum(layer.diff_size for layer in layers),
        "labels": {"seed": seed},
    }
    fields.update(kw)
    return ImageRecord(**fields)  # type: ignore[arg-type]


def with_id(hex_prefix: str, seed: str) -> ImageRecord:
    """An image whose ID starts with ``hex_prefix`` (for prefix lookups)."""
    img = make_image(seed)
    forced = Digest("sha256", (hex_prefix + img.id.hex)[:64])
    return ImageRecord(**{**img.__dict__, "id": forced})
