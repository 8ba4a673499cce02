"""The vfs snapshotter through its directories, without mounting anything."""

import io
import os
import tarfile
from pathlib import Path

import pytest

from hull.errors import Conflict, NotFound
from hull.oci.digest import Digest
from hull.snapshots import VfsSnapshotter, compute_chain_id


def _tar(*entries: tuple[str, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in entries:
            ti = tarfile.TarInfo(name.rstrip("/"))
            ti.mtime = 1_600_000_000
            ti.uid, ti.gid = os.getuid(), os.getgid()
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            else:
                ti.mode, ti.size = 0o644, len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _sha(data: bytes) -> Digest:
    import hashlib

    return Digest("sha256", hashlib.sha256(data).hexdigest())


def test_vfs_layers_are_full_trees_and_diff_finds_changes(tmp_path: Path) -> None:
    snap = VfsSnapshotter(tmp_path / "vfs", durable=False)
    l1 = _tar(("etc/", None), ("etc/a", b"a"), ("etc/b", b"b"), ("x/", None), ("x/old", b"o"))
    l2 = _tar(("etc/.wh.b", b""), ("x/.wh..wh..opq", b""), ("x/new", b"n"))
    c1 = _sha(l1)
    snap.unpack_layer(c1, None, io.BytesIO(l1))
    c2 = compute_chain_id(c1, _sha(l2))
    snap.unpack_layer(c2, c1, io.BytesIO(l2))
    layer2 = snap.layer_dir(c2) / "diff"
    assert sorted(os.listdir(layer2 / "etc")) == ["a"]
    assert sorted(os.listdir(layer2 / "x")) == ["new"]

    (mnt,) = snap.prepare("work", c2)
    assert mnt.type == "bind"
    fs = Path(mnt.source)
    (fs / "etc" / "a").write_bytes(b"changed!")
    os.unlink(fs / "x" / "new")
    (fs / "added").mkdir()
    (fs / "added" / "f").write_bytes(b"f")

    out = io.BytesIO()
    info = snap.diff("work", out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert sorted(members) == ["added", "added/f", "etc", "etc/a", "x", "x/.wh.new"]
    assert info.size == len(out.getvalue())

    with pytest.raises(Conflict):
        snap.remove(c2)
    committed = snap.commit("work")
    assert committed.diff_id == info.diff_id
    with pytest.raises(NotFound):
        snap.stat("work")
    assert committed.chain_id is not None
    top = snap.layer_dir(committed.chain_id) / "diff"
    assert (top / "etc" / "a").read_bytes() == b"changed!"
    assert sorted(os.listdir(top / "x")) == []
    assert snap.stat(c1).parent is None
