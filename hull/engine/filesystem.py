"""A container's filesystem as data: ``export``, ``diff`` (changes) and ``commit``.

Functions bound as methods of :class:`hull.engine.engine.Engine`. A stopped
container's snapshot is mounted for the time of the call. ``commit`` adds
the container's changes as one gzip layer on its image, with Docker's
``--change`` instructions applied as ``docker import`` applies them
(:func:`hull.images.importer.apply_changes`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from hull.engine import inspect as shapes
from hull.engine.config import ContainerConfig
from hull.engine.names import new_id
from hull.engine.spec import command_args
from hull.errors import Conflict, HullError, NotFound
from hull.metadata import ContainerRecord
from hull.oci.digest import Digest
from hull.oci.media_types import OCI_LAYER_GZIP

if TYPE_CHECKING:
    from hull.engine.engine import Engine


def _running(rec: ContainerRecord) -> bool:
    return bool(rec.state.get("Running")) and not rec.state.get("Restarting")


@contextlib.contextmanager
def mounted_rootfs(engine: Engine, rec: ContainerRecord) -> Iterator[Path]:
    """The container's root filesystem, mounted (temporarily if it is not running)."""
    mounted = engine.bundle_dir(rec.id) / "rootfs"
    if os.path.ismount(mounted):
        yield mounted
        return
    tmp = Path(tempfile.mkdtemp(prefix="rootfs-", dir=engine.exec_root))
    try:
        engine.images.snapshots.mount(rec.snapshot_key or rec.id, tmp)
        try:
            yield tmp
        finally:
            engine.images.snapshots.unmount(tmp)
    finally:
        with contextlib.suppress(OSError):
            tmp.rmdir()


def export(engine: Engine, ref: str, out: BinaryIO) -> None:
    """A tar of the container's root filesystem."""
    from hull.archive import diff_dir

    rec = engine.find(ref)
    with engine._lock, mounted_rootfs(engine, rec) as root:
        diff_dir(root, out, format="none")
    engine.publish("export", rec)


def changes(engine: Engine, ref: str) -> list[dict[str, Any]]:
    """Docker's ``diff``: {Path, Kind} with Kind 0 modified, 1 added, 2 deleted."""
    import tarfile

    rec = engine.find(ref)
    image = engine.images.get(Digest.parse(rec.image_id))
    parent = image.layers[-1].chain_id if image.layers else None
    with tempfile.TemporaryFile(dir=engine.data_root) as f:
        engine.images.snapshots.diff(rec.snapshot_key or rec.id, f)
        f.seek(0)
        with tarfile.open(fileobj=f, mode="r:") as tar:
            names = [m.name for m in tar]
    key = f"{rec.id[:12]}-diff-{new_id()[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="lower-", dir=engine.exec_root))
    try:
        engine.images.snapshots.view(key, parent)
        engine.images.snapshots.mount(key, tmp)
        try:
            return shapes.classify_changes(names, lambda p: os.path.lexists(f"{tmp}{p}"))
        finally:
            engine.images.snapshots.unmount(tmp)
    finally:
        with contextlib.suppress(NotFound, Conflict):
            engine.images.snapshots.remove(key)
        with contextlib.suppress(OSError):
            tmp.rmdir()


_IMAGE_CONFIG_KEYS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout",
                      "AttachStderr", "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env",
                      "Cmd", "Healthcheck", "ArgsEscaped", "Image", "Volumes", "WorkingDir",
                      "Entrypoint", "OnBuild", "Labels", "StopSignal", "StopTimeout",
                      "Shell")  # fmt: skip


def commit(
    engine: Engine, ref: str, repo: str | None = None, tag: str | None = None,
    comment: str = "", author: str = "", changes: Sequence[str] = (), pause: bool = True,
    config: Mapping[str, Any] | None = None,
) -> str:  # fmt: skip
    """A new image: the container's image plus a layer of its changes; the image ID."""
    from hull.images.importer import apply_changes
    from hull.images.inspect import format_time
    from hull.images.service import LayerBlob

    rec = engine.find(ref)
    paused_here = False
    if pause and _running(rec) and not rec.state.get("Paused"):
        engine.pause(rec.id)
        paused_here = True
    try:
        with tempfile.TemporaryFile(dir=engine.data_root) as f:
            engine.images.snapshots.diff(rec.snapshot_key or rec.id, f)
            f.seek(0)
            blob = engine.images.add_layer(f, compress=True)
    finally:
        if paused_here:
            with contextlib.suppress(HullError):
                engine.unpause(rec.id)
    image = engine.images.get(Digest.parse(rec.image_id))
    base = json.loads(image.config)
    cfg = {k: rec.config[k] for k in _IMAGE_CONFIG_KEYS if k in rec.config}
    cfg.update(config or {})
    cfg = apply_changes(cfg, list(changes))
    now = format_time(time.time())
    step = {
        "created": now,
        "created_by": " ".join(command_args(ContainerConfig.from_json(rec.config))),
    }
    step.update({k: v for k, v in (("author", author), ("comment", comment)) if v})
    new_config = {k: v for k, v in base.items() if k not in ("container_config", "container")}
    new_config.update({
        "config": cfg, "container": rec.id, "created": now,
        "history": [*(base.get("history") or []), step],
        "rootfs": {"type": "layers",
                   "diff_ids": [*base.get("rootfs", {}).get("diff_ids", []), str(blob.diff_id)]},
    })  # fmt: skip
    if author:
        new_config["author"] = author
    layers = []
    for lyr in image.layers:
        if lyr.digest is None:
            raise NotFound(f"image {image.id}: layer {lyr.diff_id} has no blob to commit on")
        layers.append(LayerBlob(lyr.digest, lyr.diff_id, lyr.size,
                                lyr.media_type or OCI_LAYER_GZIP, lyr.diff_size))  # fmt: skip
    tags = [f"{repo}:{tag or 'latest'}"] if repo else []
    new = engine.images.create_image(
        json.dumps(new_config, separators=(",", ":")).encode(),
        [*layers, blob],
        tags=tags,
        parent=image.id,
    )
    engine.publish("commit", rec, comment=comment, imageID=str(new.id),
                   imageRef=tags[0] if tags else "")  # fmt: skip
    return str(new.id)


__all__ = ["changes", "commit", "export", "mounted_rootfs"]
