import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from hull.archive import apply_layer, diff_dir

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (mknod, chown, trusted.* xattrs)")

CAP = b"\x01\x00\x00\x02\x00\x20\x00\x80" + bytes(12)


def _make_upper(upper: Path) -> None:
    upper.mkdir()
    (upper / "etc").mkdir(mode=0o755)
    (upper / "etc/conf").write_bytes(b"conf")
    os.chmod(upper / "etc/conf", 0o640)
    os.chown(upper / "etc/conf", 1234, 5678)
    (upper / "bin").mkdir()
    (upper / "bin/ping").write_bytes(b"\x7fELF" + os.urandom(5000))
    os.chmod(upper / "bin/ping", 0o4755)
    os.setxattr(upper / "bin/ping", "security.capability", CAP)
    os.setxattr(upper / "bin/ping", "user.note", b"hi")
    os.link(upper / "bin/ping", upper / "bin/ping6")
    (upper / "tmp").mkdir()
    os.chmod(upper / "tmp", 0o1777)
    os.symlink("/etc/conf", upper / "etc/link")
    os.mkfifo(upper / "etc/fifo", 0o600)
    os.mknod(upper / "etc/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(upper / "etc/removed", stat.S_IFCHR, 0)  # overlay whiteout
    (upper / "opq").mkdir()
    os.setxattr(upper / "opq", "trusted.overlay.opaque", b"y")
    (upper / "opq/new").write_bytes(b"n")
    (upper / ("long" * 40)).write_bytes(b"long name")
    for p in [upper / "etc/conf", upper / "bin/ping", upper / "etc", upper / "opq"]:
        os.utime(p, ns=(1_600_000_000_700_000_000, 1_600_000_000_700_000_000))
    os.utime(upper / "etc/link", ns=(1_500_000_000 * 10**9,) * 2, follow_symlinks=False)


def _snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            xattrs = {
                k: os.getxattr(p, k, follow_symlinks=False)
                for k in os.listxattr(p, follow_symlinks=False)
            }
            data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
            link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            mtime = st.st_mtime_ns // 10**9
            out[rel] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_rdev,
                st.st_nlink,
                mtime,
                xattrs,
                data,
                link,
            )
    return out


@needs_root
def test_round_trip_overlay(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    _make_upper(upper)
    buf = io.BytesIO()
    stats = diff_dir(upper, buf)
    raw = buf.getvalue()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        names = tf.getnames()
        members = {m.name: m for m in tf.getmembers()}
    assert names.index("etc") < names.index("etc/conf") < names.index("opq")
    assert "etc/.wh.removed" in names
    assert "opq/.wh..wh..opq" in names
    assert members["bin/ping6"].islnk() and members["bin/ping6"].linkname == "bin/ping"
    assert members["etc/conf"].uid == 1234 and members["etc/conf"].uname == ""
    assert members["etc/conf"].mtime == 1_600_000_000  # whole seconds
    assert members["etc/null"].ischr() and members["etc/null"].devmajor == 1
    assert "trusted.overlay.opaque" not in str(members["opq"].pax_headers)
    assert stats.files == len(names)

    out = tmp_path / "out"
    out.mkdir()
    apply_layer(io.BytesIO(raw), out, whiteout_format="overlay")
    a, b = _snapshot(upper), _snapshot(out)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == b[k], k
    # and once more: reproducible
    buf2 = io.BytesIO()
    diff_dir(out, buf2)
    assert buf2.getvalue() == raw


def test_reproducible_and_hardlinks(tmp_path: Path) -> None:
    upper = tmp_path / "u"
    upper.mkdir()
    (upper / "b").write_text("b")
    (upper / "a").mkdir()
    (upper / "a/x").write_text("x")
    os.link(upper / "a/x", upper / "z")
    one, two = io.BytesIO(), io.BytesIO()
    diff_dir(upper, one)
    diff_dir(upper, two)
    assert one.getvalue() == two.getvalue()
    with tarfile.open(fileobj=io.BytesIO(one.getvalue())) as tf:
        assert tf.getnames() == ["a", "a/x", "b", "z"]
        assert tf.getmember("z").islnk() and tf.getmember("z").linkname == "a/x"


def test_format_none_keeps_devices(tmp_path: Path) -> None:
    if not ROOT:
        pytest.skip("needs root")
    upper = tmp_path / "u"
    upper.mkdir()
    os.mknod(upper / "wh", stat.S_IFCHR, 0)
    buf = io.BytesIO()
    diff_dir(upper, buf, format="none")
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        assert tf.getmember("wh").ischr()


def test_vfs_apply_of_diff_removes(tmp_path: Path) -> None:
    if not ROOT:
        pytest.skip("needs root")
    upper = tmp_path / "u"
    upper.mkdir()
    os.mknod(upper / "gone", stat.S_IFCHR, 0)
    buf = io.BytesIO()
    diff_dir(upper, buf)
    lower = tmp_path / "lower"
    lower.mkdir()
    (lower / "gone").write_text("x")
    apply_layer(io.BytesIO(buf.getvalue()), lower, whiteout_format="vfs")
    assert os.listdir(lower) == []
