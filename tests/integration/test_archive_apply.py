"""apply_layer / diff_dir against a real overlayfs mount (root, real kernel)."""

import io
import os
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hull.archive import apply_layer, diff_dir
from hull.linux import mount, umount2

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount overlayfs"),
]

MNT_DETACH = 2


def _tar(*entries: tuple[str, bytes, bytes | None]) -> bytes:
    """entries: (name, type, data or symlink target)"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, typ, data in entries:
            ti = tarfile.TarInfo(name)
            ti.type = typ
            ti.mode = 0o755 if typ == tarfile.DIRTYPE else 0o644
            ti.mtime = 1_600_000_000
            if typ == tarfile.REGTYPE and data:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


@contextmanager
def overlay(tmp_path: Path, lowers: list[Path], upper: Path) -> Iterator[Path]:
    work = tmp_path / "work"
    merged = tmp_path / "merged"
    work.mkdir()
    merged.mkdir()
    opts = f"lowerdir={':'.join(str(p) for p in reversed(lowers))},upperdir={upper},workdir={work}"
    try:
        mount("overlay", str(merged), "overlay", 0, opts)
    except OSError as exc:
        pytest.skip(f"overlayfs cannot be mounted here: {exc}")
    try:
        yield merged
    finally:
        umount2(str(merged), MNT_DETACH)


def _lower(tmp_path: Path) -> Path:
    lower = tmp_path / "lower"
    lower.mkdir()
    apply_layer(
        io.BytesIO(
            _tar(
                ("etc/", tarfile.DIRTYPE, None),
                ("etc/passwd", tarfile.REGTYPE, b"root:x:0:0\n"),
                ("etc/shadow", tarfile.REGTYPE, b"secret"),
                ("var/", tarfile.DIRTYPE, None),
                ("var/cache/", tarfile.DIRTYPE, None),
                ("var/cache/old1", tarfile.REGTYPE, b"old"),
                ("var/cache/sub/old2", tarfile.REGTYPE, b"old"),
            )
        ),
        lower,
    )
    return lower


def test_overlay_whiteouts_under_a_real_mount(tmp_path: Path) -> None:
    lower = _lower(tmp_path)
    upper = tmp_path / "upper"
    upper.mkdir()
    apply_layer(
        io.BytesIO(
            _tar(
                ("etc/.wh.shadow", tarfile.REGTYPE, None),
                ("var/cache/", tarfile.DIRTYPE, None),
                ("var/cache/.wh..wh..opq", tarfile.REGTYPE, None),
                ("var/cache/new", tarfile.REGTYPE, b"new"),
            )
        ),
        upper,
        whiteout_format="overlay",
    )
    with overlay(tmp_path, [lower], upper) as merged:
        assert sorted(os.listdir(merged / "etc")) == ["passwd"]
        assert not (merged / "etc/shadow").exists()
        assert sorted(os.listdir(merged / "var/cache")) == ["new"]
        assert (merged / "var/cache/new").read_bytes() == b"new"
        assert (merged / "etc/passwd").read_bytes() == b"root:x:0:0\n"


def test_vfs_gives_the_same_tree_as_overlay(tmp_path: Path) -> None:
    lower = _lower(tmp_path)
    layer = _tar(
        ("etc/.wh.shadow", tarfile.REGTYPE, None),
        ("var/cache/", tarfile.DIRTYPE, None),
        ("var/cache/.wh..wh..opq", tarfile.REGTYPE, None),
        ("var/cache/new", tarfile.REGTYPE, b"new"),
    )
    apply_layer(io.BytesIO(layer), lower, whiteout_format="vfs")
    assert sorted(os.listdir(lower / "etc")) == ["passwd"]
    assert sorted(os.listdir(lower / "var/cache")) == ["new"]


def test_diff_of_changes_made_through_the_mount(tmp_path: Path) -> None:
    lower = _lower(tmp_path)
    upper = tmp_path / "upper"
    upper.mkdir()
    with overlay(tmp_path, [lower], upper) as merged:
        os.unlink(merged / "etc/shadow")  # kernel writes a whiteout
        for p in sorted((merged / "var/cache").rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        os.rmdir(merged / "var/cache")
        os.mkdir(merged / "var/cache")  # kernel marks it opaque
        (merged / "var/cache/fresh").write_bytes(b"fresh")
        (merged / "etc/passwd").write_bytes(b"changed\n")
    st = os.lstat(upper / "etc/shadow")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    buf = io.BytesIO()
    diff_dir(upper, buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        names = tf.getnames()
    assert "etc/.wh.shadow" in names
    assert "var/cache/.wh..wh..opq" in names
    assert "etc/passwd" in names and "var/cache/fresh" in names
    # the diff applied on the lower (vfs) gives what the mount showed
    apply_layer(io.BytesIO(buf.getvalue()), lower, whiteout_format="vfs")
    assert sorted(os.listdir(lower / "etc")) == ["passwd"]
    assert (lower / "etc/passwd").read_bytes() == b"changed\n"
    assert sorted(os.listdir(lower / "var/cache")) == ["fresh"]


def test_hostile_layer_under_a_mount_cannot_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("precious")
    lower = tmp_path / "lower"
    lower.mkdir()
    os.symlink(outside, lower / "evil")
    upper = tmp_path / "upper"
    upper.mkdir()
    layer = _tar(("evil/victim", tarfile.REGTYPE, b"pwned"))
    # the snapshotter unpacks each layer alone: "evil" is not in this upper
    apply_layer(io.BytesIO(layer), upper, whiteout_format="overlay")
    with overlay(tmp_path, [lower], upper) as merged:
        assert (merged / "evil").is_dir()  # upper's dir now hides the lower symlink
    assert (outside / "victim").read_text() == "precious"
