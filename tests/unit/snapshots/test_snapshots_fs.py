"""Hashing streams, cp -a and usage."""

import hashlib
import io
import os
import stat
from pathlib import Path

from hull.snapshots._fs import HashingReader, HashingWriter, copy_tree, disk_usage


def test_hashing_reader_counts_and_hashes() -> None:
    data = os.urandom(100_000)
    r = HashingReader(io.BytesIO(data))
    got = b""
    while chunk := r.read(4096):
        got += chunk
    assert got == data
    assert r.size == len(data)
    assert r.digest().hex == hashlib.sha256(data).hexdigest()


def test_hashing_writer_forwards() -> None:
    out = io.BytesIO()
    w = HashingWriter(out)
    w.write(b"abc")
    w.write(memoryview(b"def"))
    assert out.getvalue() == b"abcdef"
    assert w.size == 6
    assert w.digest().hex == hashlib.sha256(b"abcdef").hexdigest()
    assert HashingWriter(None).write(b"x") == 1


def _meta(p: Path) -> tuple[int, int, int, int]:
    st = os.lstat(p)
    return st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns


def test_copy_tree_preserves_everything(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "d" / "e").mkdir(parents=True)
    (src / "d" / "f").write_bytes(b"data" * 1000)
    os.chmod(src / "d" / "f", 0o4755)
    os.link(src / "d" / "f", src / "hard")
    (src / "link").symlink_to("d/f")
    (src / "dangling").symlink_to("/nowhere")
    os.mkfifo(src / "fifo", 0o640)
    os.setxattr(src / "d" / "f", "user.test", b"v")
    os.utime(src / "d" / "f", ns=(1, 1_500_000_000_123_456_789))
    os.chmod(src / "d" / "e", 0o700)
    os.utime(src / "d", ns=(2, 1_400_000_000_000_000_001))

    dst = tmp_path / "dst"
    copy_tree(src, dst)

    for rel in ("d", "d/e", "d/f", "hard", "link", "dangling", "fifo"):
        assert _meta(dst / rel) == _meta(src / rel), rel
    assert (dst / "d" / "f").read_bytes() == b"data" * 1000
    assert os.stat(dst / "hard").st_ino == os.stat(dst / "d" / "f").st_ino
    assert os.stat(dst / "hard").st_ino != os.stat(src / "hard").st_ino
    assert os.readlink(dst / "link") == "d/f"
    assert os.readlink(dst / "dangling") == "/nowhere"
    assert stat.S_ISFIFO(os.lstat(dst / "fifo").st_mode)
    assert os.getxattr(dst / "d" / "f", "user.test") == b"v"


def test_disk_usage_counts_inodes_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 10_000)
    os.link(tmp_path / "a", tmp_path / "b")
    (tmp_path / "d").mkdir()
    size, inodes = disk_usage(tmp_path)
    assert inodes == 3  # the root, a (= b), d
    assert size >= 10_000
    assert disk_usage(tmp_path / "missing") == (0, 0)
