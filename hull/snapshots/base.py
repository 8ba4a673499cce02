"""The snapshotter's vocabulary: the ``Snapshotter`` protocol and its data types.

A snapshotter keeps filesystem trees for images and containers, in the model
of containerd's ``core/snapshots/snapshotter.go``:

* A **layer** (a *committed* snapshot) is read-only and keyed by the image's
  **chain ID** (``sha256:…``, image-spec "ChainID": the chain ID of the first
  layer is its diff ID, the next one is ``sha256(parent_chain_id + " " +
  diff_id)``). It is made by ``unpack_layer`` (a layer tar) or ``commit``
  (an active snapshot's changes) and appears atomically, complete or not at
  all. Its **parent** is the chain ID of the layer below, or ``None``.
* An **active** snapshot is writable and keyed by a caller-chosen **key**
  (a container or build-step id: letters, digits, ``_.-``, not starting with
  ``tmp-``). It sits on a parent layer (or on nothing) and is made by
  ``prepare``. A **view** is the read-only variant, made by ``view``.

Lifecycle::

    unpack_layer(c1, None, tar) ─► layer c1 ─┐
    unpack_layer(c2, c1, tar) ───► layer c2 ─┼─ prepare(key, c2) ─► active key
                                             │    │ mount(key, target) … unmount(target)
                                             │    ├─ diff(key, out) → layer tar of its changes
                                             │    ├─ commit(key)    → layer c3 on c2; key gone
                                             │    └─ remove(key)
                                             └─ view(key, c2) ─► read-only, remove(key)

    remove(c2) while c3, key or any other snapshot sits on it ─► Conflict

Errors (``hull.errors``): ``NotFound`` for an unknown key or chain ID,
``AlreadyExists`` for ``prepare`` / ``view`` of an existing key,
``Conflict`` for removing a parent or for committing or removing a
snapshot that is still mounted, ``InvalidArgument`` for a bad layer
tar (the message names the entry) or a diff ID / chain ID mismatch.

Crash safety: every new layer or snapshot is built in a ``tmp-<random>``
directory and renamed into place; ``cleanup()`` removes what a crash left.
"""

from __future__ import annotations

import builtins
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, Protocol

from hull.oci.digest import Digest, digest_bytes

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hull.archive import Compression


@dataclass(frozen=True)
class Mount:
    """One mount to perform, as containerd's ``mount.Mount``.

    ``type`` is a filesystem type (``overlay``) or ``bind``; ``options`` are
    mount(8)-style: flags (``ro``, ``rbind``, ``nosuid``…) and filesystem
    data (``lowerdir=…``). Paths in options are absolute.
    """

    type: str
    source: str
    target: str | None = None
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LayerInfo:
    """A layer's diff ID and size (bytes of its uncompressed tar)."""

    diff_id: Digest
    size: int
    chain_id: Digest | None = None  # set for a committed layer, None for a bare diff


class Kind(enum.Enum):
    """What a snapshot is."""

    COMMITTED = "committed"  # a read-only layer keyed by chain ID
    ACTIVE = "active"  # writable, keyed by a caller's key
    VIEW = "view"  # read-only, keyed by a caller's key


@dataclass(frozen=True)
class SnapshotInfo:
    """What ``stat`` and ``list`` tell about one snapshot."""

    name: str  # the chain ID (committed) or the key
    kind: Kind
    parent: Digest | None
    created: float
    diff_id: Digest | None = None  # committed only
    size: int | None = None  # committed only: bytes of the layer tar


class Usage(NamedTuple):
    """Disk space of a snapshot's own data (not its parents')."""

    size: int  # bytes of allocated blocks, each inode counted once
    inodes: int


def compute_chain_id(parent: Digest | None, diff_id: Digest) -> Digest:
    """The image-spec chain ID of a layer with ``diff_id`` on ``parent``."""
    if parent is None:
        return diff_id
    return digest_bytes(f"{parent} {diff_id}".encode())


class Snapshotter(Protocol):
    """Layers keyed by chain ID and active snapshots keyed by key; see the module doc."""

    @property
    def driver(self) -> str:
        """The backend's name: ``"overlay"`` or ``"vfs"``."""
        ...

    @property
    def root(self) -> Path:
        """The directory holding this snapshotter's data."""
        ...

    def has_layer(self, chain_id: Digest) -> bool:
        """Whether the layer ``chain_id`` is committed (complete)."""
        ...

    @property
    def independent_layers(self) -> bool:
        """Whether a layer unpacks without its parent's tree (so several at once)."""
        ...

    def unpack_layer(
        self,
        chain_id: Digest,
        parent: Digest | None,
        stream: BinaryIO,
        *,
        compression: Compression | None = None,
        expected_diff_id: Digest | None = None,
        hashed_by: Callable[[], tuple[Digest, int]] | None = None,
        parent_ready: Callable[[], None] | None = None,
    ) -> LayerInfo:
        """Apply a layer tar (gzip/zstd/plain) on ``parent`` as the new layer ``chain_id``.

        ``parent_ready``: ``parent`` is still being unpacked (by another
        thread); this waits until it is committed, raising if it never will
        be. It is called before the parent is needed: first thing, or (with
        ``independent_layers``) only once the tar is applied, so that the
        layers of one image unpack side by side.

        ``hashed_by``: ``stream`` hashes what it hands out itself (a pull
        hashing the blob and its tar together); called once the tar is read
        to its end, it gives the diff ID and size instead of a hash of ours.

        The diff ID is the sha256 of the uncompressed tar; it must match
        ``expected_diff_id`` if given, and ``chain_id`` must be the chain ID
        of that diff ID on ``parent`` (else ``InvalidArgument``, nothing
        kept). If the layer exists already (another process won the race),
        its info is returned and the stream is left unread.
        """
        ...

    def prepare(self, key: str, parent: Digest | None) -> builtins.list[Mount]:
        """Make the active (writable) snapshot ``key`` on ``parent``; its mounts."""
        ...

    def view(self, key: str, parent: Digest | None) -> builtins.list[Mount]:
        """Make the read-only snapshot ``key`` of ``parent``; its mounts."""
        ...

    def mounts(self, key: str) -> builtins.list[Mount]:
        """The mounts of the active or view snapshot ``key``."""
        ...

    def mount(self, key: str, target: Path) -> None:
        """Mount snapshot ``key`` at ``target`` (in this process' mount namespace)."""
        ...

    def unmount(self, target: Path, *, detach: bool = False) -> None:
        """Unmount what ``mount`` put at ``target``."""
        ...

    def diff(self, key: str, out: BinaryIO) -> LayerInfo:
        """Write the (uncompressed) OCI layer tar of active ``key``'s changes to ``out``."""
        ...

    def commit(self, key: str, chain_id: Digest | None = None) -> LayerInfo:
        """Turn active ``key`` into a layer (chain ID computed, or checked if given).

        ``key`` is gone afterwards. If that layer exists already, the active
        snapshot is discarded and the existing layer's info returned.
        """
        ...

    def remove(self, name: str | Digest) -> None:
        """Remove a snapshot by key or a layer by chain ID; a parent is refused (Conflict)."""
        ...

    def stat(self, name: str | Digest) -> SnapshotInfo:
        """What is known about one snapshot."""
        ...

    def usage(self, name: str | Digest) -> Usage:
        """Disk usage of one snapshot's own data."""
        ...

    def list(self) -> builtins.list[SnapshotInfo]:
        """Every layer and snapshot, layers first."""
        ...

    def cleanup(self) -> None:
        """Remove what crashed writers left behind (temp dirs, dangling links)."""
        ...


__all__ = [
    "Kind",
    "LayerInfo",
    "Mount",
    "SnapshotInfo",
    "Snapshotter",
    "Usage",
    "compute_chain_id",
]
