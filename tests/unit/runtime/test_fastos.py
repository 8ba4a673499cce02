"""hull.linux.fastos behaves as the parts of os it stands in for."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

import pytest

from hull.linux import fastos

PATHS = [
    "",
    "/",
    "//",
    "a",
    "a/",
    "/a",
    "/a/",
    "/a/b",
    "a/b/c",
    "//a//b//",
    "/a/./b/../c",
    "../a",
    "a/../..",
    "/..",
    "/a/b/..",
    ".",
    "./.",
]


@pytest.mark.parametrize("p", PATHS)
def test_lexical_helpers_match_posixpath(p: str) -> None:
    assert fastos.path.dirname(p) == posixpath.dirname(p)
    assert fastos.path.basename(p) == posixpath.basename(p)
    assert fastos.path.isabs(p) == posixpath.isabs(p)
    assert fastos.path.normpath(p) == posixpath.normpath(p)
    if p:
        assert fastos.path.abspath(p) == posixpath.abspath(p)


@pytest.mark.parametrize(
    "parts",
    [("a", "b"), ("a/", "b"), ("/a", "/b"), ("", "b"), ("a", ""), ("/", "a", "b/", "c")],
)
def test_join_matches_posixpath(parts: tuple[str, ...]) -> None:
    assert fastos.path.join(*parts) == posixpath.join(*parts)


def test_realpath_and_kinds_match_os(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "f").write_text("x")
    (tmp_path / "abs").symlink_to(tmp_path / "d")
    (tmp_path / "rel").symlink_to("d/e")
    (tmp_path / "up").symlink_to("d/../f")
    (tmp_path / "dangling").symlink_to("nowhere/x")
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    names = ["d", "d/e", "f", "abs", "abs/e", "rel", "rel/..", "up", "dangling", "missing/x"]
    for name in names:
        p = str(tmp_path / name)
        assert fastos.path.realpath(p) == os.path.realpath(p), name
        assert fastos.path.isdir(p) == os.path.isdir(p), name
        assert fastos.path.isfile(p) == os.path.isfile(p), name
        assert fastos.path.islink(p) == os.path.islink(p), name
        assert fastos.path.exists(p) == os.path.exists(p), name
        assert fastos.path.lexists(p) == os.path.lexists(p), name
    # a loop resolves to something without hanging, as os.path.realpath does
    assert fastos.path.realpath(str(tmp_path / "loop1")).startswith(str(tmp_path))


def test_makedirs(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    fastos.makedirs(str(deep), 0o755)
    assert deep.is_dir()
    fastos.makedirs(str(deep), 0o755, exist_ok=True)
    with pytest.raises(FileExistsError):
        fastos.makedirs(str(deep), 0o755)
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError):
        fastos.makedirs(str(tmp_path / "file"), exist_ok=True)
    with pytest.raises(NotADirectoryError):
        fastos.makedirs(str(tmp_path / "file" / "sub"), exist_ok=True)


def test_getenv() -> None:
    assert fastos.getenv("PATH") == os.environ.get("PATH")
    assert fastos.getenv("HULL_SURELY_UNSET_VARIABLE") is None
