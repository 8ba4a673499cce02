"""Build context: hashing file by file, the on-disk cache, diff, tar in and out."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
from pathlib import Path

import pytest

from hull.build.context import Context, ContextIndex, HashCache, diff, extract_context_tar
from hull.errors import InvalidArgument, NotFound


def tree(root: Path) -> None:
    for name, text in {
        "a.txt": "a", "b.txt": "b", "src/m.py": "m", "src/sub/n.py": "n", "big.bin": "x" * 5000,
        "ignored.log": "l", ".dockerignore": "*.log\n", "Dockerfile": "FROM a\n",
    }.items():  # fmt: skip
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_checksum_ignores_mtime_but_not_content_or_mode(tmp_path: Path) -> None:
    tree(tmp_path)
    ctx = Context.from_dir(tmp_path)
    before = ctx.checksum(["a.txt", "src"])
    os.utime(tmp_path / "a.txt", (1, 1))
    assert ctx.refresh().checksum(["a.txt", "src"]) == before
    old = ctx.index
    (tmp_path / "src/sub/n.py").write_text("changed")
    new = ctx.refresh()
    assert new.checksum(["a.txt", "src"]) != before
    assert new.checksum(["a.txt"]) == old.checksum(["a.txt"])
    assert diff(old, new) == ["src/sub/n.py"]
    os.chmod(tmp_path / "a.txt", 0o600)
    assert ctx.refresh().checksum(["a.txt"]) != old.checksum(["a.txt"])


def test_globs_excludes_and_ignored_files(tmp_path: Path) -> None:
    tree(tmp_path)
    ctx = Context.from_dir(tmp_path)
    assert [m.path for m in ctx.index.select(["*.txt"])] == ["a.txt", "b.txt"]
    assert [m.path for m in ctx.index.select(["src"], exclude=["sub"])] == ["src", "src/m.py"]
    assert "ignored.log" not in ctx.index.entries
    assert "Dockerfile" in ctx.index.entries
    with pytest.raises(NotFound):
        ctx.checksum(["ignored.log"])
    with pytest.raises(NotFound):
        ctx.checksum(["*.nothing"])
    # ../ cannot escape: it is cleaned to the context root
    assert ctx.checksum(["../a.txt"]) == ctx.checksum(["a.txt"])
    before = ctx.checksum(["."])
    (tmp_path / "more.log").write_text("ignored")
    assert ctx.refresh().checksum(["."]) == before


def test_hash_cache_skips_unchanged_files(tmp_path: Path) -> None:
    root, cache = tmp_path / "ctx", tmp_path / "cache"
    root.mkdir()
    tree(root)
    assert Context.from_dir(root, cache_dir=cache).index.entries
    second = Context(root, cache_dir=cache)
    hc = HashCache(cache)
    ContextIndex.build(root, second.matcher, hc)
    assert hc.hashed == 0
    (root / "a.txt").write_text("new")
    hc = HashCache(cache)
    ContextIndex.build(root, second.matcher, hc)
    assert hc.hashed == 1


def test_send_tar_and_back(tmp_path: Path) -> None:
    root = tmp_path / "ctx"
    root.mkdir()
    tree(root)
    buf = io.BytesIO()
    Context.from_dir(root).send_tar(buf)
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tf:
        names = tf.getnames()
    assert names == sorted(names, key=lambda n: n.split("/")) and "ignored.log" not in names
    import zstandard

    for comp in (None, gzip.compress, bz2.compress, lzma.compress, zstandard.compress):
        data = buf.getvalue() if comp is None else comp(buf.getvalue())
        dest = tmp_path / f"out-{getattr(comp, '__module__', None) or 'plain'}-{id(comp)}"
        ctx = Context.from_tar(io.BytesIO(data), dest)
        assert ctx.checksum(["src", "a.txt"]) == Context.from_dir(root).checksum(["src", "a.txt"])


def hostile(member: tarfile.TarInfo, data: bytes = b"x") -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        if member.issym():
            tf.addfile(member)
            evil = tarfile.TarInfo(member.name + "/evil")
            evil.size = 1
            tf.addfile(evil, io.BytesIO(data))
        else:
            member.size = len(data) if member.isreg() else 0
            tf.addfile(member, io.BytesIO(data))
    buf.seek(0)
    return buf


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/../../x"])
def test_hostile_names_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidArgument):
        extract_context_tar(hostile(tarfile.TarInfo(name)), tmp_path / "d")
    assert not (tmp_path / "escape").exists()


def test_symlink_traversal_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("l")
    link.type = tarfile.SYMTYPE
    link.linkname = str(tmp_path)
    with pytest.raises(InvalidArgument, match="symlink"):
        extract_context_tar(hostile(link), tmp_path / "d")
    assert not (tmp_path / "evil").exists()


def test_hardlink_out_refused(tmp_path: Path) -> None:
    hl = tarfile.TarInfo("h")
    hl.type = tarfile.LNKTYPE
    hl.linkname = "../../etc/passwd"
    with pytest.raises(InvalidArgument):
        extract_context_tar(hostile(hl), tmp_path / "d")


def test_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        extract_context_tar(io.BytesIO(b"hello, not a tar at all" * 40), tmp_path / "d")
