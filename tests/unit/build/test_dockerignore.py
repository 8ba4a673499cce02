"""``.dockerignore`` patterns (moby/patternmatcher semantics) and the walk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hull.build.dockerignore import Matcher, read_patterns, walk
from hull.errors import InvalidArgument

CASES = [
    (["*.go"], "a.go", True),
    (["*.go"], "d/a.go", False),
    (["**/*.go"], "d/e/a.go", True),
    (["**/*.go"], "a.go", True),
    (["**"], "anything/at/all", True),
    (["d/**"], "d/x/y", True),
    (["d/**"], "dx", False),
    (["**/foo"], "a/b/foo", True),
    (["**/foo"], "foo", True),
    (["**/foo"], "barfoo", False),
    (["a/**/b"], "a/b", True),
    (["a/**/b"], "a/x/y/b", True),
    (["?.txt"], "a.txt", True),
    (["?.txt"], "ab.txt", False),
    (["[a-c].txt"], "b.txt", True),
    (["[a-c].txt"], "d.txt", False),
    (["[^a].txt"], "a.txt", False),
    (["docs"], "docs/a/b.md", True),  # a matching parent excludes its contents
    (["docs/"], "docs/a.md", True),
    (["./docs"], "docs/a.md", True),
    (["/docs"], "docs/a.md", False),  # as patternmatcher: only read_patterns drops "/"
    (["a/../docs"], "docs", True),
    (["*", "!keep"], "keep", False),
    (["*", "!keep"], "other", True),
    (["*.md", "!README.md"], "README.md", False),
    (["*.md", "!README.md", "README*"], "README.md", True),  # last match wins
    (["dir", "!dir/keep"], "dir/keep", False),
    (["dir", "!dir/keep"], "dir/other", True),
    (["a\\*b"], "a*b", True),
    (["a\\*b"], "axb", False),
    (["a.b"], "axb", False),
    (["*/x"], "a/x", True),
    (["*/x"], "a/b/x", False),
]


@pytest.mark.parametrize(("patterns", "path", "ignored"), CASES)
def test_matches(patterns: list[str], path: str, ignored: bool) -> None:
    assert Matcher(patterns).matches(path) is ignored


def test_read_patterns() -> None:
    text = "\ufeff# comment\n\n  *.pyc  \n!  /keep/../kept/\n/abs\n./rel/\n #not a comment\n"
    assert read_patterns(text) == ["*.pyc", "!kept", "abs", "rel", "#not a comment"]
    assert Matcher(read_patterns("/docs")).matches("docs/a.md")


def test_bad_patterns() -> None:
    with pytest.raises(InvalidArgument):
        Matcher(["!"])
    with pytest.raises(InvalidArgument):
        Matcher(["[abc"])


def test_for_build_keeps_dockerfile_and_dockerignore() -> None:
    m = Matcher.for_build(["*"], "Dockerfile")
    assert not m.matches("Dockerfile")
    assert not m.matches(".dockerignore")
    assert m.matches("other")


def make_tree(root: Path, files: list[str]) -> None:
    for f in files:
        p = root / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f)


def test_walk(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a.txt", "b.log", "node_modules/x/y.js", "src/m.py", "src/t.log"])
    os.symlink("/etc", tmp_path / "link")
    got = [e.path for e in walk(tmp_path, Matcher(["*.log", "**/*.log", "node_modules"]))]
    assert got == ["a.txt", "link", "src", "src/m.py"]


def test_walk_reincludes_inside_ignored_dir(tmp_path: Path) -> None:
    make_tree(tmp_path, ["dir/keep/k.txt", "dir/drop.txt", "other/x"])
    m = Matcher(["dir", "other", "!dir/keep"])
    assert [e.path for e in walk(tmp_path, m)] == ["dir", "dir/keep", "dir/keep/k.txt"]
    assert m.can_skip_dir("other") and not m.can_skip_dir("dir")
    # a wildcard exception could match anywhere: nothing may be skipped
    assert not Matcher(["other", "!**/x"]).can_skip_dir("other")
