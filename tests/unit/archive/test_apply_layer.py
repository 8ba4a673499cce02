import gzip
import io
import os
import re
import stat
import tarfile
from pathlib import Path

import pytest
from _archive_tarbuild import E, d, f, hard, sym, tar_bytes

from hull.archive import ApplyLimits, IDMap, apply_layer
from hull.errors import InvalidArgument

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (chown, mknod, trusted.* xattrs)")


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    p = tmp_path / "dest"
    p.mkdir()
    return p


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    p = tmp_path / "outside"
    p.mkdir()
    (p / "victim").write_text("precious")
    return p


def apply(dest: Path, *entries: E, **kw: object):  # type: ignore[no-untyped-def]
    return apply_layer(io.BytesIO(tar_bytes(*entries)), dest, **kw)  # type: ignore[arg-type]


def assert_untouched(outside: Path) -> None:
    assert sorted(os.listdir(outside)) == ["victim"]
    assert (outside / "victim").read_text() == "precious"


# -- ordinary entries ---------------------------------------------------------------------


def test_files_dirs_links_and_metadata(dest: Path) -> None:
    stats = apply(
        dest,
        d("etc", mode=0o755, mtime=1_500_000_000),
        f("etc/hosts", b"127.0.0.1 localhost\n", mode=0o644, mtime=1_400_000_000),
        f("usr/bin/su", b"#!", mode=0o4755),
        d("tmp", mode=0o1777),
        sym("etc/localtime", "/usr/share/zoneinfo/UTC"),
        sym("up", "../../.."),
        hard("etc/hosts2", "etc/hosts"),
        E("run/fifo", tarfile.FIFOTYPE, mode=0o640),
        d("ro", mode=0o555),
        f("ro/file", b"inside a read-only dir"),
    )
    assert stats.files == 10
    assert stats.size == len(b"127.0.0.1 localhost\n") + 2 + len(b"inside a read-only dir")
    assert (dest / "etc/hosts").read_bytes() == b"127.0.0.1 localhost\n"
    assert os.stat(dest / "etc/hosts").st_mtime == 1_400_000_000
    assert os.stat(dest / "etc").st_mtime == 1_500_000_000  # fixed after its contents
    assert stat.S_IMODE(os.stat(dest / "usr/bin/su").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(dest / "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(dest / "ro").st_mode) == 0o555
    assert os.readlink(dest / "etc/localtime") == "/usr/share/zoneinfo/UTC"
    assert os.readlink(dest / "up") == "../../.."  # kept as is
    assert os.lstat(dest / "etc/localtime").st_mtime == 1_600_000_000
    assert os.stat(dest / "etc/hosts2").st_ino == os.stat(dest / "etc/hosts").st_ino
    assert stat.S_ISFIFO(os.stat(dest / "run/fifo").st_mode)
    assert stat.S_IMODE(os.stat(dest / "run/fifo").st_mode) == 0o640


def test_sub_second_mtime_and_root_entry(dest: Path) -> None:
    apply(
        dest,
        d("./", mode=0o711, mtime=1_234_567_890),
        f("a", b"x", pax={"mtime": "1700000000.123456789"}),
    )
    assert os.stat(dest / "a").st_mtime_ns == 1_700_000_000_123_456_789
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o711
    assert os.stat(dest).st_mtime == 1_234_567_890


def test_root_entry_must_be_a_directory(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"'a/..'"):
        apply(dest, f("a/..", b"x"))


@needs_root
def test_owners_and_id_map(dest: Path, tmp_path: Path) -> None:
    apply(dest, f("a", b"x", uid=1000, gid=2000), sym("l", "a", uid=3, gid=4))
    assert (os.stat(dest / "a").st_uid, os.stat(dest / "a").st_gid) == (1000, 2000)
    assert (os.lstat(dest / "l").st_uid, os.lstat(dest / "l").st_gid) == (3, 4)
    other = tmp_path / "mapped"
    other.mkdir()
    m = IDMap(uids=((0, 100000, 65536),), gids=((0, 200000, 65536),))
    apply(other, f("a", b"x", uid=1000, gid=2000), id_map=m)
    assert (os.stat(other / "a").st_uid, os.stat(other / "a").st_gid) == (101000, 202000)
    with pytest.raises(InvalidArgument, match=r"layer entry 'b'.*not mapped"):
        apply(other, f("b", b"x", uid=70000), id_map=m)


@needs_root
def test_setuid_survives_chown(dest: Path) -> None:
    apply(dest, f("su", b"x", mode=0o6755, uid=0, gid=0), f("nu", b"y", mode=0o4711, uid=5))
    assert stat.S_IMODE(os.stat(dest / "su").st_mode) == 0o6755
    assert stat.S_IMODE(os.stat(dest / "nu").st_mode) == 0o4711


def test_xattrs(dest: Path) -> None:
    cap = b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    apply(
        dest,
        f(
            "ping",
            b"elf",
            pax={
                "SCHILY.xattr.user.note": "hello",
                "SCHILY.xattr.security.capability": cap.decode("latin-1"),
                "SCHILY.xattr.trusted.overlay.opaque": "y",  # never taken from a layer
                "SCHILY.xattr.security.selinux": "nope",
            },
        ),
    )
    names = os.listxattr(dest / "ping")
    assert os.getxattr(dest / "ping", "user.note") == b"hello"
    if ROOT:
        assert os.getxattr(dest / "ping", "security.capability") == cap
    assert "trusted.overlay.opaque" not in names
    assert "security.selinux" not in names


def test_binary_xattr_value_kept(dest: Path) -> None:
    # tarfile cannot write binary PAX values; build the records by hand
    # vfs_cap_data v2 with the effective bit: CAP_NET_RAW and CAP_SETFCAP (0x80 byte)
    value = b"\x01\x00\x00\x02\x00\x20\x00\x80" + bytes(12)
    rec = b" SCHILY.xattr.security.capability=" + value + b"\n"
    n = len(rec) + 2
    pax = str(n).encode() + rec
    assert len(pax) == n
    raw = _raw_pax_entry(pax, "f", b"data")
    apply_layer(io.BytesIO(raw), dest)
    if ROOT:
        assert os.getxattr(dest / "f", "security.capability") == value


def _raw_pax_entry(pax: bytes, name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    xh = tarfile.TarInfo("PaxHeaders.0/" + name)
    xh.type = tarfile.XHDTYPE
    xh.size = len(pax)
    buf.write(xh.tobuf(tarfile.USTAR_FORMAT))
    buf.write(pax + bytes(-len(pax) % 512))
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    buf.write(ti.tobuf(tarfile.USTAR_FORMAT))
    buf.write(data + bytes(-len(data) % 512))
    buf.write(bytes(1024))
    return buf.getvalue()


def test_long_names_gnu_and_pax(dest: Path) -> None:
    long = "/".join(["d" * 60] * 5) + "/file"
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        raw = tar_bytes(f(long, b"deep"), sym("s" * 150, "t" * 200), fmt=fmt)
        apply_layer(io.BytesIO(raw), dest)
        assert (dest / long).read_bytes() == b"deep"
        assert os.readlink(dest / ("s" * 150)) == "t" * 200


def test_gzip_layer(dest: Path) -> None:
    raw = gzip.compress(tar_bytes(f("a", b"gz")))
    apply_layer(io.BytesIO(raw), dest)
    assert (dest / "a").read_bytes() == b"gz"


def test_replace_existing_entries(dest: Path) -> None:
    (dest / "was_dir").mkdir()
    (dest / "was_dir/inner").write_text("x")
    (dest / "was_file").write_text("x")
    (dest / "keep_dir").mkdir()
    (dest / "keep_dir/lower").write_text("lower")
    apply(
        dest,
        f("was_dir", b"now a file"),
        d("was_file"),
        d("keep_dir", mode=0o700),
        f("keep_dir/new", b"n"),
    )
    assert (dest / "was_dir").read_bytes() == b"now a file"
    assert (dest / "was_file").is_dir()
    assert sorted(os.listdir(dest / "keep_dir")) == ["lower", "new"]  # dir over dir merges


def test_non_utf8_names(dest: Path) -> None:
    buf = io.BytesIO()
    ti = tarfile.TarInfo("x")
    ti.size = 1
    hdr = bytearray(ti.tobuf(tarfile.USTAR_FORMAT))
    hdr[0:3] = b"\xff\xfex"
    hdr[148:156] = b" " * 8
    hdr[148:156] = b"%06o\0 " % sum(hdr)
    buf.write(bytes(hdr) + b"z" + bytes(511) + bytes(1024))
    apply_layer(io.BytesIO(buf.getvalue()), dest)
    assert os.listdir(os.fsencode(dest)) == [b"\xff\xfex"]


# -- hostile entries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "a/../../etc/passwd", "./../x", "..", "a/b/../../../c"]
)
def test_dotdot_escape_is_refused(dest: Path, name: str) -> None:
    with pytest.raises(InvalidArgument, match=rf"layer entry '{re.escape(name)}'.*escapes"):
        apply(dest, f(name, b"pwned"))
    assert not (dest.parent / "etc").exists()


def test_harmless_dotdot_is_cleaned(dest: Path) -> None:
    apply(dest, f("a/../b", b"ok"))
    assert (dest / "b").read_bytes() == b"ok"


def test_absolute_path_is_made_relative(dest: Path) -> None:
    apply(dest, f("/etc/passwd", b"root:x:0:0"))
    assert (dest / "etc/passwd").read_bytes() == b"root:x:0:0"


def test_write_through_absolute_symlink_stays_inside(dest: Path, outside: Path) -> None:
    apply(dest, sym("escape", str(outside)), f("escape/victim", b"pwned"), f("escape/new", b"n"))
    assert_untouched(outside)
    inner = dest / str(outside).lstrip("/")
    assert (inner / "victim").read_bytes() == b"pwned"
    assert (inner / "new").read_bytes() == b"n"


def test_write_through_dotdot_symlink_from_same_layer(dest: Path, outside: Path) -> None:
    depth = len(dest.parts)
    up = "/".join([".."] * (depth + 2))
    apply(
        dest,
        sym("up", up),
        f(f"up/{str(outside).lstrip('/')}/victim", b"pwned"),
        sym("rel", "../outside"),
        f("rel/victim", b"pwned2"),
    )
    assert_untouched(outside)
    assert (dest / str(outside).lstrip("/") / "victim").read_bytes() == b"pwned"
    assert (dest / "outside/victim").read_bytes() == b"pwned2"


def test_write_through_symlink_from_lower_layer(dest: Path, outside: Path) -> None:
    os.symlink(outside, dest / "lower_abs")
    os.symlink("../outside", dest / "lower_rel")
    os.makedirs(dest / "a/b")
    os.symlink("../../../../../../../../..", dest / "a/b/deep")
    apply(
        dest,
        f("lower_abs/victim", b"x"),
        f("lower_rel/victim", b"y"),
        f(f"a/b/deep/{str(outside).lstrip('/')}/victim", b"z"),
        whiteout_format="vfs",
    )
    assert_untouched(outside)
    assert (dest / "outside/victim").read_bytes() == b"y"


def test_symlink_as_final_component_is_replaced_not_followed(dest: Path, outside: Path) -> None:
    os.symlink(outside / "victim", dest / "link")
    apply(dest, f("link", b"pwned"))
    assert_untouched(outside)
    assert not (dest / "link").is_symlink()
    assert (dest / "link").read_bytes() == b"pwned"


def test_symlink_loop_is_refused(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"layer entry 'a/x'.*symbolic links"):
        apply(dest, sym("a", "b"), sym("b", "a"), f("a/x", b"x"))


def test_file_under_a_file_is_refused(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"layer entry 'f/x'.*not a directory"):
        apply(dest, f("f", b"x"), f("f/x", b"y"))


def test_hardlink_escape_is_refused(dest: Path, outside: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"layer entry 'h'.*escapes"):
        apply(dest, hard("h", "../outside/victim"))
    with pytest.raises(InvalidArgument, match=r"layer entry 'h2'"):
        apply(dest, hard("h2", f"{'../' * 20}{str(outside).lstrip('/')}/victim"))
    assert os.stat(outside / "victim").st_nlink == 1


def test_hardlink_through_symlink_stays_inside(dest: Path, outside: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"layer entry 'h'.*does not exist"):
        apply(dest, sym("s", str(outside)), hard("h", "s/victim"))
    assert os.stat(outside / "victim").st_nlink == 1


def test_hardlink_to_missing_or_dir_is_refused(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"layer entry 'h'.*'nothing' does not exist"):
        apply(dest, hard("h", "nothing"))
    with pytest.raises(InvalidArgument, match=r"layer entry 'h'.*is a directory"):
        apply(dest, d("dir"), hard("h", "dir"))


def test_hardlink_to_lower_layer_file(dest: Path) -> None:
    (dest / "lower").write_text("from below")
    apply(dest, hard("h", "lower"), whiteout_format="vfs")
    assert os.stat(dest / "h").st_ino == os.stat(dest / "lower").st_ino


def test_devices_refused_when_not_allowed(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"layer entry 'dev/null'.*device"):
        apply(dest, E("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3), allow_devices=False)
    with pytest.raises(InvalidArgument, match=r"layer entry 'dev/sda'.*device"):
        apply(dest, E("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0), allow_devices=False)
    # fifos are not devices
    apply(dest, E("p", tarfile.FIFOTYPE), allow_devices=False)


@needs_root
def test_devices_as_root(dest: Path) -> None:
    apply(
        dest,
        E("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666),
        E("dev/loop0", tarfile.BLKTYPE, devmajor=7, devminor=0, mode=0o660),
    )
    st = os.stat(dest / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_IMODE(st.st_mode) == 0o666
    assert stat.S_ISBLK(os.stat(dest / "dev/loop0").st_mode)


def test_tar_bomb_by_size(dest: Path) -> None:
    limits = ApplyLimits(max_bytes=10_000)
    with pytest.raises(InvalidArgument, match=r"layer entry 'big2'.*limit"):
        apply(dest, f("big1", b"a" * 6000), f("big2", b"b" * 6000), limits=limits)


def test_tar_bomb_by_entries(dest: Path) -> None:
    limits = ApplyLimits(max_entries=3)
    with pytest.raises(InvalidArgument, match=r"layer entry 'f3'.*entries"):
        apply(dest, *[f(f"f{i}") for i in range(10)], limits=limits)


def test_tar_bomb_by_pax_header(dest: Path) -> None:
    limits = ApplyLimits(max_header_bytes=1000)
    with pytest.raises(InvalidArgument, match=r"PAX header"):
        apply(dest, f("a", pax={"SCHILY.xattr.user.big": "x" * 5000}), limits=limits)


def test_truncated_and_corrupt_tar(dest: Path) -> None:
    raw = tar_bytes(f("a", b"x" * 5000), f("b", b"y" * 10))
    with pytest.raises(InvalidArgument, match=r"layer entry 'a'.*truncated"):
        apply_layer(io.BytesIO(raw[:2000]), dest)
    bad = bytearray(raw)
    bad[0] ^= 1  # checksum no longer matches
    with pytest.raises(InvalidArgument, match=r"checksum"):
        apply_layer(io.BytesIO(bytes(bad)), dest)


# -- sparse files -------------------------------------------------------------------------

MiB = 1 << 20


def _sparse01(name: str, realsize: int, runs: list[tuple[int, bytes]]) -> E:
    data = b"".join(chunk for _, chunk in runs)
    m = ",".join(f"{off},{len(chunk)}" for off, chunk in runs)
    return E(
        f"GNUSparseFile.0/{name}",
        data=data,
        pax={
            "GNU.sparse.map": m,
            "GNU.sparse.size": str(realsize),
            "GNU.sparse.name": name,
        },
    )


def _sparse10(name: str, realsize: int, runs: list[tuple[int, bytes]]) -> E:
    lines = [str(len(runs))] + [f"{off}\n{len(chunk)}" for off, chunk in runs]
    m = ("\n".join(lines) + "\n").encode()
    m += bytes(-len(m) % 512)
    data = m + b"".join(chunk for _, chunk in runs)
    return E(
        f"GNUSparseFile.0/{name}",
        data=data,
        pax={
            "GNU.sparse.major": "1",
            "GNU.sparse.minor": "0",
            "GNU.sparse.realsize": str(realsize),
            "GNU.sparse.name": name,
        },
    )


@pytest.mark.parametrize("make", [_sparse01, _sparse10])
def test_sparse_files_keep_holes(dest: Path, make) -> None:  # type: ignore[no-untyped-def]
    runs = [(0, b"A" * 4096), (8 * MiB, b"B" * 4096)]
    stats = apply(dest, make("disk.img", 10 * MiB, runs), f("after", b"still aligned"))
    p = dest / "disk.img"
    st = os.stat(p)
    assert st.st_size == 10 * MiB
    assert st.st_blocks * 512 < MiB  # holes preserved
    with open(p, "rb") as fh:
        assert fh.read(4096) == b"A" * 4096
        assert fh.read(4096) == bytes(4096)
        fh.seek(8 * MiB)
        assert fh.read(4097) == b"B" * 4096 + b"\0"
    assert (dest / "after").read_bytes() == b"still aligned"
    assert stats.size == 8192 + len(b"still aligned")


def test_sparse_apparent_size_limit(dest: Path) -> None:
    limits = ApplyLimits(max_sparse_apparent_size=5 * MiB)
    with pytest.raises(InvalidArgument, match=r"layer entry 'huge'.*apparent size"):
        apply(dest, _sparse01("huge", 100 * MiB, [(0, b"x")]), limits=limits)


def test_sparse_map_must_match_data(dest: Path) -> None:
    e = _sparse01("bad", 10_000, [(0, b"x" * 100)])
    e.pax["GNU.sparse.map"] = "0,50"
    with pytest.raises(InvalidArgument, match=r"layer entry 'bad'.*sparse"):
        apply(dest, e)
    e2 = _sparse01("bad2", 100, [(90, b"x" * 100)])
    with pytest.raises(InvalidArgument, match=r"layer entry 'bad2'.*sparse"):
        apply(dest, e2)


# -- whiteouts ----------------------------------------------------------------------------


def _lower(dest: Path) -> None:
    (dest / "a").mkdir()
    (dest / "a/gone").write_text("lower")
    (dest / "a/stays").write_text("lower")
    (dest / "a/gonedir").mkdir()
    (dest / "a/gonedir/x").write_text("lower")
    (dest / "opq").mkdir()
    (dest / "opq/lower_file").write_text("lower")
    (dest / "opq/sub").mkdir()
    (dest / "opq/sub/lower_deep").write_text("lower")
    (dest / "opq/.a").write_text("lower")


def test_whiteouts_vfs(dest: Path) -> None:
    _lower(dest)
    stats = apply(
        dest,
        f("a/.wh.gone"),
        f("a/.wh.gonedir"),
        f("a/.wh.never_existed"),
        d("opq"),
        f("opq/.a", b"this layer"),  # sorts before the marker: kept
        f("opq/.wh..wh..opq"),
        f("opq/new", b"this layer"),
        f("opq/sub/newdeep", b"this layer"),
        f(".wh..wh.plnk/1234", b"aufs"),
        f(".wh..wh.aufs"),
        whiteout_format="vfs",
    )
    assert sorted(os.listdir(dest / "a")) == ["stays"]
    assert sorted(os.listdir(dest / "opq")) == [".a", "new", "sub"]
    assert (dest / "opq/.a").read_bytes() == b"this layer"
    assert os.listdir(dest / "opq/sub") == ["newdeep"]
    assert not (dest / ".wh..wh.plnk").exists()
    assert not (dest / ".wh..wh.aufs").exists()
    assert stats.whiteouts == 4


def test_whiteouts_overlay(dest: Path) -> None:
    stats = apply(
        dest,
        f("a/.wh.gone"),
        d("opq"),
        f("opq/.wh..wh..opq"),
        f("opq/new", b"n"),
        f(".wh..wh.plnk/1234", b"aufs"),
    )
    st = os.lstat(dest / "a/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    if ROOT:
        assert os.getxattr(dest / "opq", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(dest)) == ["a", "opq"]
    assert stats.whiteouts == 2


def test_whiteout_outside_is_refused(dest: Path, outside: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"layer entry '../.wh.outside'.*escapes"):
        apply(dest, f("../.wh.outside"), whiteout_format="vfs")
    with pytest.raises(InvalidArgument, match=r"layer entry 'a/../../outside/.wh.victim'"):
        apply(dest, f("a/../../outside/.wh.victim"), whiteout_format="vfs")
    assert_untouched(outside)


def test_whiteout_through_symlink_stays_inside(dest: Path, outside: Path) -> None:
    os.symlink(outside, dest / "lnk")
    apply(dest, f("lnk/.wh.victim"), whiteout_format="vfs")
    apply(dest, f("lnk/.wh.victim"), whiteout_format="overlay")
    assert_untouched(outside)


def test_opaque_through_symlink_stays_inside(dest: Path, outside: Path) -> None:
    os.symlink(outside, dest / "lnk")
    apply(dest, f("lnk/.wh..wh..opq"), whiteout_format="vfs")
    assert_untouched(outside)


def test_bad_whiteout_names(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"whiteout"):
        apply(dest, f("a/.wh."), whiteout_format="vfs")


def test_unknown_whiteout_format(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"whiteout format"):
        apply(dest, f("a"), whiteout_format="aufs")


def test_failure_midway_leaves_a_deletable_tree(dest: Path) -> None:
    import shutil

    with pytest.raises(InvalidArgument):
        apply(dest, d("ro", mode=0o500), f("ro/x", b"x"), f("../boom"))
    shutil.rmtree(dest)
    assert not dest.exists()
