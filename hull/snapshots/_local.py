"""What the overlay and vfs snapshotters share: layout, locks, lifecycle.

Layout under ``root``::

    layers/<hex of chain ID>/   a committed layer (only complete ones exist)
        diff/                   its tree (overlay: the changes; vfs: everything)
        parent                  the parent chain ID, or empty
        info.json               {"diff_id", "size", "created"}
    layers/tmp-<random>/        a layer being written or removed
    active/<key>/               an active or view snapshot
        parent, kind            parent chain ID (or empty); "active" or "view"
    active/tmp-<random>/        a snapshot being made or removed
    locks/                      flock files (see below)

Locks (``flock``; released by the kernel when a holder dies):

* ``gc.lock``: held *shared* by every operation that may own a ``tmp-*``
  directory, *exclusive* by ``cleanup()`` — so cleanup never deletes the
  temp dir of a writer that is still running, in any process.
* ``<hex>.lock``: one unpack or commit of a chain ID at a time; the second
  one finds the layer made and returns it.
* ``meta.lock``: short critical sections that read or change the parent
  graph (the final rename of a layer or snapshot, ``remove``), so that a
  parent cannot disappear under a new child.

Lock order: gc → chain → meta.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import json
import os
import re
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO, ClassVar

from hull.archive import apply_layer, decompress_stream
from hull.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from hull.oci.digest import Digest
from hull.snapshots import _fs, _mount
from hull.snapshots.base import Kind, LayerInfo, Mount, SnapshotInfo, Usage, compute_chain_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from hull.archive import Compression, WhiteoutFormat

_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_GC = "gc.lock"
_META = "meta.lock"
_TMP = "tmp-"


def as_chain_id(value: Digest | str) -> Digest:
    """A chain ID as a sha256 ``Digest`` (InvalidArgument otherwise)."""
    d = value if isinstance(value, Digest) else Digest.parse(value)
    if d.algorithm != "sha256":
        raise InvalidArgument(f"invalid chain ID '{d}': expected sha256")
    return d


def check_key(key: str) -> str:
    """A validated snapshot key (a container or build id)."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or key.startswith(_TMP):
        raise InvalidArgument(
            f"invalid snapshot key {key!r}: expected 1-128 letters, digits, '_', '.', '-', "
            f"starting with a letter or digit and not with '{_TMP}'"
        )
    return key


def _name(name: str | Digest) -> Digest | str:
    if isinstance(name, Digest) or ":" in name:
        return as_chain_id(name)
    return check_key(name)


class LocalSnapshotter:
    """The shared half of the overlay and vfs snapshotters; see the module doc."""

    driver_name: ClassVar[str]
    whiteout_format: ClassVar[WhiteoutFormat]

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self._root = root
        self.durable = durable  # sync the filesystem before a layer becomes visible
        self.layers = root / "layers"
        self.active = root / "active"
        self.locks = root / "locks"
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for d in (self.layers, self.active, self.locks):
            d.mkdir(mode=0o700, exist_ok=True)

    @property
    def driver(self) -> str:
        """The backend's name."""
        return self.driver_name

    @property
    def root(self) -> Path:
        """The directory holding this snapshotter's data."""
        return self._root

    # -- backend hooks ---------------------------------------------------------------

    def _fill_layer(self, diff: Path, parent: Digest | None) -> None:
        """Make ``diff`` (absent) the starting tree of a new layer on ``parent``."""
        raise NotImplementedError

    def _link_layer(
        self, tmp: Path, chain_id: Digest, parent: Digest | None
    ) -> Callable[[], None] | None:
        """Extra files of a new layer dir; returns an undo for what lives outside it."""
        return None

    def _unlink_layer(self, layer_dir: Path) -> None:
        """Remove what a layer has outside its own dir (it is being removed)."""

    def _make_active(self, tmp: Path, parent: Digest | None, kind: Kind) -> None:
        """Fill the new snapshot dir ``tmp`` on ``parent``."""
        raise NotImplementedError

    def _active_data(self, adir: Path) -> Path:
        """The directory holding an active snapshot's own data."""
        raise NotImplementedError

    def _mounts(self, adir: Path, parent: Digest | None, kind: Kind) -> builtins.list[Mount]:
        raise NotImplementedError

    def _write_diff(self, adir: Path, parent: Digest | None, out: BinaryIO) -> None:
        raise NotImplementedError

    def _cleanup_extra(self) -> None:
        """Backend leftovers to remove while no writer runs."""

    # -- locks and paths ---------------------------------------------------------------

    @contextmanager
    def _lock(self, name: str, *, shared: bool = False) -> Iterator[None]:
        fd = os.open(self.locks / name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def layer_dir(self, chain_id: Digest) -> Path:
        """The directory of layer ``chain_id`` (which may not exist)."""
        return self.layers / chain_id.hex

    def _active_dir(self, key: str) -> Path:
        return self.active / key

    @staticmethod
    def _mktemp(parent: Path) -> Path:
        while True:
            tmp = parent / f"{_TMP}{os.urandom(8).hex()}"
            try:
                tmp.mkdir(mode=0o700)
                return tmp
            except FileExistsError:
                continue

    def _trash(self, path: Path) -> Path:
        """Rename ``path`` to a temp name so that its removal is atomic."""
        trash = path.parent / f"{_TMP}{os.urandom(8).hex()}"
        os.rename(path, trash)
        return trash

    def _sync(self) -> None:
        # every write of the layer durable before the rename publishes it:
        # syncfs(2) of the snapshots' filesystem, not sync(2) of the whole
        # machine (which also waited for any other disk's dirty pages)
        if self.durable:
            from hull.linux import syncfs

            fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                syncfs(fd)
            finally:
                os.close(fd)

    # -- metadata ----------------------------------------------------------------------

    @staticmethod
    def _read_parent(d: Path) -> Digest | None:
        text = (d / "parent").read_text().strip()
        return as_chain_id(text) if text else None

    def _read_layer(self, chain_id: Digest) -> SnapshotInfo | None:
        d = self.layer_dir(chain_id)
        try:
            info = json.loads((d / "info.json").read_text())
            parent = self._read_parent(d)
        except FileNotFoundError:
            return None
        return SnapshotInfo(
            name=str(chain_id),
            kind=Kind.COMMITTED,
            parent=parent,
            created=float(info["created"]),
            diff_id=Digest.parse(info["diff_id"]),
            size=int(info["size"]),
        )

    def _read_active(self, key: str) -> SnapshotInfo | None:
        d = self._active_dir(key)
        try:
            kind = Kind((d / "kind").read_text().strip())
            created = (d / "kind").stat().st_mtime
            parent = self._read_parent(d)
        except FileNotFoundError:
            return None
        return SnapshotInfo(name=key, kind=kind, parent=parent, created=created)

    def _layer(self, chain_id: Digest) -> SnapshotInfo:
        info = self._read_layer(chain_id)
        if info is None:
            raise NotFound(f"no such layer snapshot: {chain_id}")
        return info

    def _snapshot(self, key: str) -> SnapshotInfo:
        info = self._read_active(key)
        if info is None:
            raise NotFound(f"no such snapshot: {key}")
        return info

    def _not_mounted(self, key: str, adir: Path) -> None:
        where = _mount.mounted_from(self._active_data(adir))
        if where is not None:
            raise Conflict(f"snapshot {key} is mounted at '{where}': unmount it first")

    @staticmethod
    def _layer_info(info: SnapshotInfo) -> LayerInfo:
        assert info.diff_id is not None and info.size is not None
        return LayerInfo(info.diff_id, info.size, Digest.parse(info.name))

    def _children(self, chain_id: Digest) -> builtins.list[str]:
        out: builtins.list[str] = []
        for base, names in ((self.layers, self._layer_names()), (self.active, self._keys())):
            for name in names:
                try:
                    parent = self._read_parent(base / name)
                except FileNotFoundError:
                    continue
                if parent == chain_id:
                    out.append(f"sha256:{name}" if base is self.layers else name)
        return out

    def _layer_names(self) -> builtins.list[str]:
        return sorted(n for n in os.listdir(self.layers) if _HEX64.fullmatch(n))

    def _keys(self) -> builtins.list[str]:
        return sorted(n for n in os.listdir(self.active) if not n.startswith(_TMP))

    def _write_layer_meta(
        self, tmp: Path, parent: Digest | None, diff_id: Digest, size: int
    ) -> None:
        _fs.write_file(tmp / "parent", "" if parent is None else str(parent))
        meta = {"diff_id": str(diff_id), "size": size, "created": time.time()}
        _fs.write_file(tmp / "info.json", json.dumps(meta))

    def _publish_layer(self, tmp: Path, chain_id: Digest, parent: Digest | None) -> None:
        """Rename a complete temp layer dir into place (caller holds the chain lock)."""
        self._sync()
        with self._lock(_META):
            if parent is not None and not self.layer_dir(parent).is_dir():
                raise NotFound(f"parent layer {parent} of {chain_id} was removed meanwhile")
            os.rename(tmp, self.layer_dir(chain_id))
            _fs.fsync_dir(self.layers)

    # -- the protocol ------------------------------------------------------------------

    def has_layer(self, chain_id: Digest) -> bool:
        """Whether the layer ``chain_id`` is committed (complete)."""
        return self.layer_dir(as_chain_id(chain_id)).is_dir()

    # a new layer starts empty (overlay), not as a copy of its parent (vfs)
    independent_layers: bool = False

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
        """Apply a layer tar on ``parent`` as the new layer ``chain_id``; see the protocol."""
        chain = as_chain_id(chain_id)
        par = None if parent is None else as_chain_id(parent)
        with self._lock(_GC, shared=True), self._lock(f"{chain.hex}.lock"):
            existing = self._read_layer(chain)
            if existing is not None:  # another writer won; our stream is not needed
                if expected_diff_id is not None and existing.diff_id != expected_diff_id:
                    raise InvalidArgument(
                        f"layer {chain} has diff ID {existing.diff_id}, expected {expected_diff_id}"
                    )
                return self._layer_info(existing)
            # the parent is needed from the start only where a layer starts as its tree
            wait_late = parent_ready is not None and self.independent_layers
            if parent_ready is not None and not wait_late:
                parent_ready()
            if par is not None and not wait_late:
                self._layer(par)
            tmp = self._mktemp(self.layers)
            undo: Callable[[], None] | None = None
            try:
                self._fill_layer(tmp / "diff", par)
                hashing = _fs.HashingReader(
                    decompress_stream(stream, compression), hashed_by=hashed_by
                )
                apply_layer(
                    hashing.as_stream(),
                    tmp / "diff",
                    whiteout_format=self.whiteout_format,
                    compression="none",
                )
                diff_id = hashing.digest()
                if expected_diff_id is not None and diff_id != expected_diff_id:
                    raise InvalidArgument(
                        f"layer {chain}: content has diff ID {diff_id}, expected {expected_diff_id}"
                    )
                computed = compute_chain_id(par, diff_id)
                if computed != chain:
                    raise InvalidArgument(
                        f"layer {chain}: content (diff ID {diff_id}) on parent {par} "
                        f"has chain ID {computed}"
                    )
                if wait_late:
                    assert parent_ready is not None
                    parent_ready()
                    if par is not None:
                        self._layer(par)
                self._write_layer_meta(tmp, par, diff_id, hashing.size)
                undo = self._link_layer(tmp, chain, par)
                self._publish_layer(tmp, chain, par)
            except BaseException:
                with contextlib.suppress(NameError):
                    hashing.close()  # its hashing thread ends
                if undo is not None:
                    undo()
                _fs.rmtree(tmp)
                raise
            return LayerInfo(diff_id, hashing.size, chain)

    def prepare(self, key: str, parent: Digest | None) -> builtins.list[Mount]:
        """Make the active (writable) snapshot ``key`` on ``parent``; its mounts."""
        return self._create(key, parent, Kind.ACTIVE)

    def view(self, key: str, parent: Digest | None) -> builtins.list[Mount]:
        """Make the read-only snapshot ``key`` of ``parent``; its mounts."""
        return self._create(key, parent, Kind.VIEW)

    def _create(self, key: str, parent: Digest | None, kind: Kind) -> builtins.list[Mount]:
        key = check_key(key)
        par = None if parent is None else as_chain_id(parent)
        adir = self._active_dir(key)
        with self._lock(_GC, shared=True):
            if adir.exists():
                raise AlreadyExists(f"snapshot {key} exists already")
            if par is not None:
                self._layer(par)
            tmp = self._mktemp(self.active)
            try:
                # The (vfs: slow) filling runs unlocked; the parent is
                # checked again under the lock before the snapshot appears.
                self._make_active(tmp, par, kind)
                _fs.write_file(tmp / "parent", "" if par is None else str(par))
                _fs.write_file(tmp / "kind", kind.value)
                with self._lock(_META):
                    if par is not None:
                        self._layer(par)
                    try:
                        os.rename(tmp, adir)
                    except OSError as exc:  # ENOTEMPTY / EEXIST: a racing prepare won
                        raise AlreadyExists(f"snapshot {key} exists already") from exc
                    _fs.fsync_dir(self.active)
            except BaseException:
                _fs.rmtree(tmp)
                raise
        return self._mounts(adir, par, kind)

    def mounts(self, key: str) -> builtins.list[Mount]:
        """The mounts of the active or view snapshot ``key``."""
        key = check_key(key)
        info = self._snapshot(key)
        return self._mounts(self._active_dir(key), info.parent, info.kind)

    def mount(self, key: str, target: Path) -> None:
        """Mount snapshot ``key`` at ``target``."""
        _mount.mount_all(self.mounts(key), target)

    def unmount(self, target: Path, *, detach: bool = False) -> None:
        """Unmount what ``mount`` put at ``target``."""
        _mount.unmount(target, detach=detach)

    def diff(self, key: str, out: BinaryIO) -> LayerInfo:
        """Write the OCI layer tar of active ``key``'s changes to ``out``."""
        key = check_key(key)
        with self._lock(_GC, shared=True):
            info = self._snapshot(key)
            if info.kind is not Kind.ACTIVE:
                raise InvalidArgument(f"snapshot {key} is a read-only view: it has no changes")
            hashing = _fs.HashingWriter(out)
            self._write_diff(self._active_dir(key), info.parent, hashing.as_stream())
            return LayerInfo(hashing.digest(), hashing.size)

    def commit(self, key: str, chain_id: Digest | None = None) -> LayerInfo:
        """Turn active ``key`` into a layer; see the protocol."""
        key = check_key(key)
        adir = self._active_dir(key)
        with self._lock(_GC, shared=True):
            info = self._snapshot(key)
            if info.kind is not Kind.ACTIVE:
                raise InvalidArgument(f"snapshot {key} is a read-only view: cannot commit it")
            self._not_mounted(key, adir)
            par = info.parent
            hashing = _fs.HashingWriter(None)
            self._write_diff(adir, par, hashing.as_stream())
            diff_id, size = hashing.digest(), hashing.size
            chain = compute_chain_id(par, diff_id)
            if chain_id is not None and as_chain_id(chain_id) != chain:
                raise InvalidArgument(
                    f"cannot commit {key} as {chain_id}: its changes (diff ID {diff_id}) "
                    f"on {par} have chain ID {chain}"
                )
            with self._lock(f"{chain.hex}.lock"):
                self._snapshot(key)  # NotFound if a racing commit or remove took it
                existing = self._read_layer(chain)
                if existing is None:
                    self._commit_into(adir, chain, par, diff_id, size)
                with self._lock(_META):
                    trash = self._trash(adir)
                _fs.rmtree(trash)
                if existing is not None:
                    return self._layer_info(existing)
                return LayerInfo(diff_id, size, chain)

    def _commit_into(
        self, adir: Path, chain: Digest, par: Digest | None, diff_id: Digest, size: int
    ) -> None:
        tmp = self._mktemp(self.layers)
        data = self._active_data(adir)
        undo: Callable[[], None] | None = None
        try:
            self._write_layer_meta(tmp, par, diff_id, size)
            # Which snapshot the data came from: cleanup() gives it back after a crash.
            _fs.write_file(tmp / "origin", adir.name)
            os.rename(data, tmp / "diff")  # the snapshot's data becomes the layer as-is
            undo = self._link_layer(tmp, chain, par)
            self._publish_layer(tmp, chain, par)
        except BaseException:
            if undo is not None:
                undo()
            if (tmp / "diff").exists() and not data.exists():
                os.rename(tmp / "diff", data)  # give the snapshot its data back
            _fs.rmtree(tmp)
            raise

    def remove(self, name: str | Digest) -> None:
        """Remove a snapshot by key or a layer by chain ID; a parent is refused."""
        which = _name(name)
        with self._lock(_GC, shared=True):
            with self._lock(_META):
                if isinstance(which, Digest):
                    self._layer(which)
                    children = self._children(which)
                    if children:
                        shown = ", ".join(children[:3]) + (", …" if len(children) > 3 else "")
                        raise Conflict(
                            f"layer {which} is the parent of {len(children)} snapshot(s) "
                            f"({shown}): remove them first"
                        )
                    trash = self._trash(self.layer_dir(which))
                    self._unlink_layer(trash)
                else:
                    self._snapshot(which)
                    self._not_mounted(which, self._active_dir(which))
                    trash = self._trash(self._active_dir(which))
            _fs.rmtree(trash)

    def stat(self, name: str | Digest) -> SnapshotInfo:
        """What is known about one snapshot."""
        which = _name(name)
        if isinstance(which, Digest):
            return self._layer(which)
        return self._snapshot(which)

    def usage(self, name: str | Digest) -> Usage:
        """Disk usage of one snapshot's own data."""
        which = _name(name)
        if isinstance(which, Digest):
            self._layer(which)
            data = self.layer_dir(which) / "diff"
        else:
            self._snapshot(which)
            data = self._active_data(self._active_dir(which))
        return Usage(*_fs.disk_usage(data))

    def list(self) -> builtins.list[SnapshotInfo]:
        """Every layer and snapshot, layers first."""
        out: builtins.list[SnapshotInfo] = []
        for hexname in self._layer_names():
            info = self._read_layer(Digest("sha256", hexname))
            if info is not None:
                out.append(info)
        for key in self._keys():
            ainfo = self._read_active(key)
            if ainfo is not None:
                out.append(ainfo)
        return out

    def _restore_origin(self, tmp: Path) -> None:
        """Give an interrupted commit's data back to its snapshot."""
        try:
            key = (tmp / "origin").read_text().strip()
        except FileNotFoundError:
            return
        if not _KEY.fullmatch(key) or not (tmp / "diff").is_dir():
            return
        adir = self._active_dir(key)
        data = self._active_data(adir)
        if adir.is_dir() and not data.exists():
            os.rename(tmp / "diff", data)

    def cleanup(self) -> None:
        """Remove what crashed writers left behind."""
        with self._lock(_GC):  # exclusive: no writer is in flight in any process
            for name in os.listdir(self.layers):
                if name.startswith(_TMP):
                    self._restore_origin(self.layers / name)
                    _fs.rmtree(self.layers / name)
            for name in os.listdir(self.active):
                if name.startswith(_TMP):
                    _fs.rmtree(self.active / name)
            for key in self._keys():
                info = self._read_active(key)
                adir = self._active_dir(key)
                if info is None or (
                    info.kind is Kind.ACTIVE and not self._active_data(adir).exists()
                ):
                    _fs.rmtree(adir)  # half made, or its data became a layer
            for name in os.listdir(self.locks):
                if name.endswith(".lock") and _HEX64.fullmatch(name[: -len(".lock")]):
                    os.unlink(self.locks / name)  # chain locks are only taken under gc
            self._cleanup_extra()


__all__ = ["LocalSnapshotter", "as_chain_id", "check_key"]
