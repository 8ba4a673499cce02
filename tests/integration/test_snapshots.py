"""Snapshotter conformance on a real kernel: overlay and vfs, same assertions.

Every test gets a fresh snapshotter root under its tmp dir; every mount a
test makes is unmounted (lazily if need be) and the root removed even when
the test fails.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hull.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from hull.oci.digest import Digest
from hull.snapshots import (
    Kind,
    Snapshotter,
    compute_chain_id,
    create_snapshotter,
    detect_driver,
    overlay_supported,
)
from hull.snapshots._fs import rmtree
from hull.snapshots._mount import PAGE_SIZE, parse_options

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount"),
]

MTIME = 1_600_000_000


# -- helpers ----------------------------------------------------------------------------


def make_tar(*entries: tuple[str, bytes | None]) -> bytes:
    """entries: (name, data); a name ending in "/" is a directory (data None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in entries:
            ti = tarfile.TarInfo(name.rstrip("/") if name != "/" else ".")
            ti.mtime = MTIME
            if name.endswith("/"):
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            else:
                ti.mode = 0o644
                ti.size = len(data or b"")
                tf.addfile(ti, io.BytesIO(data or b""))
    return buf.getvalue()


def sha(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


class Chain:
    """Layers unpacked one on another; tracks chain IDs."""

    def __init__(self, snap: Snapshotter) -> None:
        self.snap = snap
        self.ids: list[Digest] = []

    @property
    def top(self) -> Digest | None:
        return self.ids[-1] if self.ids else None

    def add(self, layer: bytes) -> Digest:
        chain = compute_chain_id(self.top, sha(layer))
        info = self.snap.unpack_layer(chain, self.top, io.BytesIO(layer))
        assert info.chain_id == chain
        assert info.diff_id == sha(layer)
        assert info.size == len(layer)
        self.ids.append(chain)
        return chain


def tree(path: Path) -> dict[str, bytes | None]:
    """Relative path -> content (None for a directory)."""
    out: dict[str, bytes | None] = {}
    for p in sorted(path.rglob("*")):
        rel = str(p.relative_to(path))
        out[rel] = None if p.is_dir() and not p.is_symlink() else p.read_bytes()
    return out


def tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getnames()


def is_mountpoint(path: Path) -> bool:
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == target for line in f)


# -- fixtures ---------------------------------------------------------------------------


class Mounts:
    """Mount snapshots at targets under a tmp dir; unmount all at the end."""

    def __init__(self, snap: Snapshotter, base: Path) -> None:
        self.snap = snap
        self.base = base
        self.targets: list[Path] = []

    @contextmanager
    def at(self, key: str) -> Iterator[Path]:
        target = self.base / f"mnt-{key}-{len(self.targets)}"
        target.mkdir(parents=True)
        self.targets.append(target)
        self.snap.mount(key, target)
        try:
            yield target
        finally:
            self.snap.unmount(target)

    def cleanup(self) -> None:
        for target in reversed(self.targets):
            while is_mountpoint(target):
                self.snap.unmount(target, detach=True)


def _make(driver: str, root: Path) -> Snapshotter:
    if driver == "overlay":
        root.mkdir(parents=True, exist_ok=True)
        why_not = overlay_supported(root)
        if why_not is not None:
            pytest.skip(f"overlayfs is not usable here: {why_not}")
    return create_snapshotter(root, driver)


@pytest.fixture(params=["overlay", "vfs"])
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def snap_root(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "snapshots"
    try:
        yield root
    finally:
        rmtree(root)


@pytest.fixture
def snap(driver: str, snap_root: Path) -> Snapshotter:
    return _make(driver, snap_root)


@pytest.fixture
def mounts(snap: Snapshotter, tmp_path: Path) -> Iterator[Mounts]:
    m = Mounts(snap, tmp_path / "targets")
    try:
        yield m
    finally:
        m.cleanup()


LAYER1 = make_tar(
    ("a/", None),
    ("a/f1", b"one"),
    ("a/keep", b"keep"),
    ("gone.txt", b"bye"),
    ("opq/", None),
    ("opq/old1", b"old"),
    ("opq/sub/", None),
    ("opq/sub/old2", b"old"),
)
LAYER2 = make_tar(
    (".wh.gone.txt", b""),
    ("opq/", None),
    ("opq/.wh..wh..opq", b""),
    ("opq/new2", b"new"),
    ("b/", None),
    ("b/f2", b"two"),
)
MERGED = {
    "a": None,
    "a/f1": b"one",
    "a/keep": b"keep",
    "b": None,
    "b/f2": b"two",
    "opq": None,
    "opq/new2": b"new",
}


def leftovers(snap: Snapshotter) -> list[str]:
    """Temp dirs and links a failed operation could leave behind."""
    root = snap.root
    out = [n for n in os.listdir(root / "layers") if n.startswith("tmp-")]
    out += [n for n in os.listdir(root / "active") if n.startswith("tmp-")]
    if (root / "l").exists():  # overlay: links whose layer does not exist
        out += [f"l/{n}" for n in os.listdir(root / "l") if not (root / "l" / n).exists()]
    return out


# -- the lifecycle ----------------------------------------------------------------------


def test_merged_view_diff_commit(snap: Snapshotter, mounts: Mounts) -> None:
    chain = Chain(snap)
    chain.add(LAYER1)
    c2 = chain.add(LAYER2)
    snap.prepare("ctr1", c2)
    assert snap.stat("ctr1").kind is Kind.ACTIVE
    assert snap.stat("ctr1").parent == c2
    with pytest.raises(AlreadyExists):
        snap.prepare("ctr1", c2)

    with mounts.at("ctr1") as merged:
        assert tree(merged) == MERGED
        (merged / "new.txt").write_bytes(b"fresh")
        os.unlink(merged / "a" / "f1")
        with pytest.raises(Conflict, match="mounted"):
            snap.commit("ctr1")
        with pytest.raises(Conflict, match="mounted"):
            snap.remove("ctr1")
    assert not is_mountpoint(merged)

    out = io.BytesIO()
    info = snap.diff("ctr1", out)
    data = out.getvalue()
    assert info.diff_id == sha(data) and info.size == len(data)
    names = tar_names(data)
    assert "new.txt" in names
    assert "a/.wh.f1" in names
    assert not any("gone" in n or n.startswith("opq") or n.startswith("b") for n in names)

    committed = snap.commit("ctr1")
    assert committed.diff_id == info.diff_id  # the same changes, the same tar
    assert committed.chain_id == compute_chain_id(c2, info.diff_id)
    with pytest.raises(NotFound):
        snap.stat("ctr1")
    assert snap.stat(committed.chain_id).parent == c2

    snap.prepare("ctr2", committed.chain_id)
    with mounts.at("ctr2") as merged:
        expected = dict(MERGED)
        del expected["a/f1"]
        expected["new.txt"] = b"fresh"
        assert tree(merged) == expected
    assert leftovers(snap) == []


def test_view_is_read_only(snap: Snapshotter, mounts: Mounts) -> None:
    chain = Chain(snap)
    c1 = chain.add(LAYER1)
    c2 = chain.add(LAYER2)
    snap.view("v1", c1)  # one layer: a bind mount in both backends
    snap.view("v2", c2)  # overlay: two lower dirs, no upper
    assert snap.stat("v2").kind is Kind.VIEW
    with mounts.at("v1") as m:
        assert (m / "gone.txt").read_bytes() == b"bye"
        with pytest.raises(OSError) as exc:
            (m / "x").write_bytes(b"x")
        assert exc.value.errno == errno.EROFS
    with mounts.at("v2") as m:
        assert tree(m) == MERGED
        with pytest.raises(OSError) as exc:
            (m / "x").write_bytes(b"x")
        assert exc.value.errno == errno.EROFS
    with pytest.raises(InvalidArgument):
        snap.commit("v2")
    with pytest.raises(InvalidArgument):
        snap.diff("v2", io.BytesIO())
    snap.remove("v1")
    snap.remove("v2")


def test_snapshot_without_parent(snap: Snapshotter, mounts: Mounts) -> None:
    snap.prepare("scratch", None)
    with mounts.at("scratch") as m:
        assert os.listdir(m) == []
        with pytest.raises(Conflict, match="mounted"):
            snap.remove("scratch")  # a bind mount is found too
        (m / "etc").mkdir()
        (m / "etc" / "hostname").write_bytes(b"box\n")
    out = io.BytesIO()
    snap.diff("scratch", out)
    assert tar_names(out.getvalue()) == ["etc", "etc/hostname"]
    info = snap.commit("scratch")
    assert info.chain_id == info.diff_id == sha(out.getvalue())
    snap.view("look", info.chain_id)
    with mounts.at("look") as m:
        assert (m / "etc" / "hostname").read_bytes() == b"box\n"


def test_deep_chain_mounts(snap: Snapshotter, mounts: Mounts) -> None:
    chain = Chain(snap)
    for i in range(120):
        chain.add(make_tar((f"l{i:03d}", b"%d" % i)))
    top = chain.top
    assert top is not None
    mnts = snap.prepare("deep", top)
    if snap.driver == "overlay":
        _, data = parse_options(mnts[0].options)
        assert data.count(":") == 119
        assert len(data) >= PAGE_SIZE  # absolute paths would not fit: compaction needed
    with mounts.at("deep") as m:
        names = sorted(os.listdir(m))
        assert names == [f"l{i:03d}" for i in range(120)]
        assert (m / "l000").read_bytes() == b"0"
        assert (m / "l119").read_bytes() == b"119"
        (m / "top").write_bytes(b"t")
    out = io.BytesIO()
    snap.diff("deep", out)
    assert tar_names(out.getvalue()) == ["top"]


# -- layers unpacked side by side ----------------------------------------------------------


class _Gate(io.RawIOBase):
    """A stream that hands out nothing until ``opened`` is set."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.opened = threading.Event()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        assert self.opened.wait(30)
        return self._data.read(n)


def test_a_layer_unpacks_while_its_parent_does(snap: Snapshotter, mounts: Mounts) -> None:
    c1 = sha(LAYER1)
    c2 = compute_chain_id(c1, sha(LAYER2))
    gate = _Gate(LAYER1)
    parent_done = threading.Event()
    asked: list[bool] = []

    def parent_ready() -> None:
        # what was there when the child asked for its parent: the child's own tar applied?
        layers = snap.root / "layers"
        tmps = [layers / n / "diff" for n in os.listdir(layers) if n.startswith("tmp-")]
        asked.append(any((d / "opq").is_dir() for d in tmps) and not snap.has_layer(c1))
        gate.opened.set()
        assert parent_done.wait(30)

    def parent() -> None:
        snap.unpack_layer(c1, None, gate)  # type: ignore[arg-type]
        parent_done.set()

    t = threading.Thread(target=parent)
    t.start()
    try:
        info = snap.unpack_layer(c2, c1, io.BytesIO(LAYER2), parent_ready=parent_ready)
    finally:
        gate.opened.set()
        t.join()
    assert info.chain_id == c2 and snap.has_layer(c1) and snap.has_layer(c2)
    # overlay applied the child before its parent had a byte; vfs, which starts a
    # layer as a copy of its parent, waited first
    assert asked == [snap.independent_layers]
    assert snap.independent_layers == (type(snap).__name__ == "OverlaySnapshotter")
    snap.prepare("top", c2)
    with mounts.at("top") as m:
        assert (m / "a" / "keep").read_bytes() == b"keep"
        assert not (m / "gone.txt").exists()


def test_a_failed_parent_fails_the_layer_on_it(snap: Snapshotter) -> None:
    c1 = sha(LAYER1)
    c2 = compute_chain_id(c1, sha(LAYER2))

    def parent_ready() -> None:
        raise RuntimeError("the layer below failed")

    with pytest.raises(RuntimeError, match="below failed"):
        snap.unpack_layer(c2, c1, io.BytesIO(LAYER2), parent_ready=parent_ready)
    assert not snap.has_layer(c2)
    assert leftovers(snap) == []


# -- refusals ---------------------------------------------------------------------------


def test_diff_id_mismatch_refused(snap: Snapshotter) -> None:
    wrong = sha(b"something else")
    with pytest.raises(InvalidArgument, match="diff ID"):
        snap.unpack_layer(sha(LAYER1), None, io.BytesIO(LAYER1), expected_diff_id=wrong)
    with pytest.raises(InvalidArgument, match="chain ID"):
        snap.unpack_layer(wrong, None, io.BytesIO(LAYER1))
    assert not snap.has_layer(sha(LAYER1))
    assert snap.list() == []
    assert leftovers(snap) == []


def test_hostile_layer_refused(snap: Snapshotter, tmp_path: Path) -> None:
    evil = make_tar(("ok", b"fine"), ("../../evil", b"gotcha"))
    with pytest.raises(InvalidArgument, match=r"\.\./\.\./evil"):
        snap.unpack_layer(sha(evil), None, io.BytesIO(evil))
    assert snap.list() == []
    assert leftovers(snap) == []
    assert not list(tmp_path.rglob("evil"))


def test_unknown_names(snap: Snapshotter) -> None:
    missing = sha(b"missing")
    with pytest.raises(NotFound):
        snap.prepare("k", missing)
    with pytest.raises(NotFound):
        snap.unpack_layer(compute_chain_id(missing, sha(LAYER1)), missing, io.BytesIO(LAYER1))
    with pytest.raises(NotFound):
        snap.remove("nokey")
    with pytest.raises(NotFound):
        snap.mounts("nokey")
    with pytest.raises(InvalidArgument):
        snap.prepare("../escape", None)
    with pytest.raises(InvalidArgument):
        snap.prepare("tmp-1234", None)
    assert leftovers(snap) == []


def test_remove_parent_refused(snap: Snapshotter) -> None:
    chain = Chain(snap)
    c1 = chain.add(LAYER1)
    c2 = chain.add(LAYER2)
    with pytest.raises(Conflict, match="parent"):
        snap.remove(c1)
    snap.prepare("k", c2)
    with pytest.raises(Conflict, match="k"):
        snap.remove(c2)
    assert snap.usage("k").inodes >= 1
    assert snap.usage(c1).size > 0
    assert [i.name for i in snap.list()] == [*sorted([str(c1), str(c2)]), "k"]
    snap.remove("k")
    snap.remove(str(c2))  # a leaf now; by its string form
    snap.remove(c1)
    assert snap.list() == []
    assert leftovers(snap) == []
    assert not snap.has_layer(c1)
    if snap.driver == "overlay":
        assert os.listdir(snap.root / "l") == []


def test_same_layer_twice_returns_existing(snap: Snapshotter) -> None:
    c1 = sha(LAYER1)
    first = snap.unpack_layer(c1, None, io.BytesIO(LAYER1))
    stream = io.BytesIO(LAYER1)
    again = snap.unpack_layer(c1, None, stream)
    assert again == first
    assert stream.tell() == 0  # not read: the layer was there


# -- crashes and races ------------------------------------------------------------------

_UNPACK = """
import json, sys
from pathlib import Path
from hull.oci.digest import Digest
from hull.snapshots import create_snapshotter
root, driver, chain, path = sys.argv[1:5]
snap = create_snapshotter(Path(root), driver)
src = sys.stdin.buffer if path == "-" else open(path, "rb")
info = snap.unpack_layer(Digest.parse(chain), None, src)
print(json.dumps({"diff_id": str(info.diff_id), "size": info.size}))
"""


def big_layer(files: int, size: int) -> bytes:
    return make_tar(
        ("data/", None), *((f"data/f{i:04d}", bytes([i % 251]) * size) for i in range(files))
    )


def _child(snap_root: Path, driver: str, chain: Digest, path: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _UNPACK, str(snap_root), driver, str(chain), path],
        stdin=subprocess.PIPE if path == "-" else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )


def test_crash_during_unpack(snap: Snapshotter, driver: str, snap_root: Path) -> None:
    layer = big_layer(64, 1 << 20)
    chain = sha(layer)
    child = _child(snap_root, driver, chain, "-")
    try:
        assert child.stdin is not None
        child.stdin.write(layer[: len(layer) // 2])
        child.stdin.flush()
        deadline = time.monotonic() + 30
        tmp = None
        while time.monotonic() < deadline:  # wait until files are being written
            tmps = [p for p in (snap.root / "layers").glob("tmp-*")]
            if tmps and list((tmps[0] / "diff").glob("data/f000*")):
                tmp = tmps[0]
                break
            time.sleep(0.02)
        assert tmp is not None, "the child never started writing"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdin is not None:
            child.stdin.close()
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()
        child.stderr.close()

    fresh = create_snapshotter(snap_root, driver)
    assert not fresh.has_layer(chain)
    assert fresh.list() == []
    assert tmp.exists()
    fresh.cleanup()
    assert not tmp.exists()
    assert leftovers(fresh) == []
    info = fresh.unpack_layer(chain, None, io.BytesIO(layer))
    assert info.diff_id == chain
    assert fresh.has_layer(chain)


def test_cleanup_after_crash_in_commit(snap: Snapshotter, mounts: Mounts) -> None:
    c1 = Chain(snap).add(LAYER1)
    snap.prepare("k", c1)
    with mounts.at("k") as m:
        (m / "mine").write_bytes(b"keep me")
    adir = snap.root / "active" / "k"
    data = adir / ("upper" if snap.driver == "overlay" else "fs")
    # The state a commit leaves when killed after moving the data into its temp layer.
    tmp = snap.root / "layers" / "tmp-crashed"
    tmp.mkdir()
    (tmp / "origin").write_text("k")
    os.rename(data, tmp / "diff")
    snap.cleanup()
    assert not tmp.exists()
    with mounts.at("k") as m:
        assert (m / "mine").read_bytes() == b"keep me"
    # Killed after the layer was published, before the snapshot was removed.
    snap.prepare("gone", c1)
    rmtree(snap.root / "active" / "gone" / data.name)
    snap.cleanup()
    assert [i.name for i in snap.list()] == [str(c1), "k"]


def test_concurrent_unpack_same_chain(snap: Snapshotter, driver: str, tmp_path: Path) -> None:
    layer = big_layer(32, 1 << 20)
    chain = sha(layer)
    path = tmp_path / "layer.tar"
    path.write_bytes(layer)
    children = [_child(snap.root.parent, driver, chain, str(path)) for _ in range(2)]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert results[0] == results[1] == {"diff_id": str(chain), "size": len(layer)}
    assert [i.name for i in snap.list()] == [str(chain)]
    assert os.listdir(snap.root / "layers") == [chain.hex]
    if driver == "overlay":
        assert len(os.listdir(snap.root / "l")) == 1


# -- the factory ------------------------------------------------------------------------


def test_auto_driver_is_probed_once(tmp_path: Path) -> None:
    root = tmp_path / "auto"
    try:
        first = detect_driver(root)
        assert first in ("overlay", "vfs")
        assert (root / "driver").read_text() == first
        assert not list(root.glob("probe-*"))
        expected = "overlay" if overlay_supported(tmp_path) is None else "vfs"
        assert first == expected
        (root / "driver").write_text("vfs")  # the recorded answer wins
        assert create_snapshotter(root).driver == "vfs"
        with pytest.raises(InvalidArgument):
            create_snapshotter(root, "zfs")
    finally:
        rmtree(root)
