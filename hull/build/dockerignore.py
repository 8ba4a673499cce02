"""``.dockerignore``: reading the file, matching paths, walking a context.

Semantics of moby/patternmatcher and its ``ignorefile`` reader:

- lines starting with ``#`` are comments; blank lines are skipped; each
  pattern is trimmed, cleaned like ``filepath.Clean`` (``./a/`` → ``a``,
  ``a/../b`` → ``b``) and a leading ``/`` dropped;
- ``*`` matches within one path element, ``?`` one character, ``[...]`` a
  class, ``**`` any number of elements, ``\\`` escapes;
- a pattern that matches a parent directory matches everything below it;
- ``!pattern`` re-includes; the last matching pattern wins.

``Matcher.for_build`` adds the exceptions the docker CLI adds so that the
Dockerfile and ``.dockerignore`` always reach the builder even when ignored.
``walk`` skips a whole ignored directory unless some exception pattern could
match below it, and never follows a symlink.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hull.errors import InvalidArgument

__all__ = ["Entry", "Matcher", "read_patterns", "walk"]

_ESCAPE = set(".+()|{}$")
_WILD = re.compile(r"[*?\[\\]")


def read_patterns(text: str) -> list[str]:
    """The patterns of a ``.dockerignore`` file, cleaned as the docker CLI does."""
    out = []
    for i, line in enumerate(text.split("\n")):
        if i == 0:
            line = line.removeprefix("\ufeff")
        line = line.removesuffix("\r")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = posixpath.normpath(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


def _clean(p: str) -> str:
    # filepath.Clean: normpath also keeps a leading "//", Go does not
    c = posixpath.normpath(p) if p else "."
    return "/" + c.lstrip("/") if c.startswith("//") else c


@dataclass
class _Pattern:
    text: str
    exclusion: bool
    dirs: int
    kind: str = ""
    rx: re.Pattern[str] | None = None

    def compile(self) -> None:
        reg = "^"
        kind = "exact"
        p = self.text
        i = 0
        n = len(p)
        first = True
        while i < n:
            ch = p[i]
            i += 1
            if ch == "*":
                if i < n and p[i] == "*":
                    i += 1
                    if i < n and p[i] == "/":
                        i += 1
                    if i >= n:
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            reg += ".*"
                            kind = "regexp"
                    else:
                        reg += "(.*/)?"
                        kind = "regexp"
                    if first:
                        kind = "suffix"
                else:
                    reg += "[^/]*"
                    kind = "regexp"
            elif ch == "?":
                reg += "[^/]"
                kind = "regexp"
            elif ch in _ESCAPE:
                reg += "\\" + ch
            elif ch == "\\":
                if i < n:
                    reg += re.escape(p[i])
                    i += 1
                    kind = "regexp"
                else:
                    reg += "\\\\"
            elif ch in "[]":
                reg += ch
                kind = "regexp"
            else:
                reg += ch
            first = False
        if kind == "regexp":
            try:
                self.rx = re.compile(reg + "$", re.DOTALL)
            except re.error as exc:
                raise InvalidArgument(f"syntax error in pattern {self.text!r}: {exc}") from None
        self.kind = kind

    def match(self, path: str) -> bool:
        if not self.kind:
            self.compile()
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            if path.endswith(suffix):
                return True
            return suffix[:1] == "/" and path == suffix[1:]
        assert self.rx is not None
        return self.rx.match(path) is not None

    def could_match_below(self, directory: str) -> bool:
        """Whether this pattern might match some path under ``directory``."""
        m = _WILD.search(self.text)
        literal = self.text if m is None else self.text[: m.start()]
        d = directory + "/"
        return literal.startswith(d) or d.startswith(literal)


class Matcher:
    """A compiled list of ignore patterns; ``matches`` says "leave it out"."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = _clean(p)
            excl = p.startswith("!")
            if excl:
                if len(p) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
                p = p[1:]
            pat = _Pattern(p, excl, len(p.split("/")))
            if p.count("[") > p.count("]") or (p.endswith("\\") and not p.endswith("\\\\")):
                raise InvalidArgument(f"syntax error in pattern: {raw}")
            pat.compile()
            self.patterns.append(pat)
        self.exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def for_build(cls, patterns: Iterable[str], dockerfile: str = "Dockerfile") -> Matcher:
        """A matcher that never ignores the Dockerfile or ``.dockerignore``."""
        pats = list(patterns)
        probe = cls(pats)
        for keep in (".dockerignore", dockerfile):
            if probe.matches(keep):
                pats.append("!" + keep)
        return cls(pats)

    @classmethod
    def from_context(cls, context_dir: Path, dockerfile: str = "Dockerfile") -> Matcher:
        """Read ``<context>/.dockerignore`` (if any) as ``for_build`` does."""
        try:
            text = (context_dir / ".dockerignore").read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        return cls.for_build(read_patterns(text), dockerfile)

    def matches(self, path: str) -> bool:
        """Whether ``path`` (relative, ``/``-separated) is ignored."""
        path = _clean(path)
        if path == ".":
            return False
        matched = False
        parent = posixpath.dirname(path)
        parent_dirs = parent.split("/") if parent else []
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue
            hit = pat.match(path)
            if not hit and parent_dirs and pat.dirs <= len(parent_dirs):
                hit = pat.match("/".join(parent_dirs[: pat.dirs]))
            if hit:
                matched = not pat.exclusion
        return matched

    def can_skip_dir(self, directory: str) -> bool:
        """Whether an ignored directory holds nothing an exception re-includes."""
        return not any(p.exclusion and p.could_match_below(directory) for p in self.patterns)


@dataclass(frozen=True)
class Entry:
    """One path of the context, relative and ``/``-separated, with its lstat."""

    path: str
    st: os.stat_result

    @property
    def is_dir(self) -> bool:
        """Whether the entry is a directory (never a symlink to one)."""
        return stat.S_ISDIR(self.st.st_mode)


def walk(context_dir: Path | str, matcher: Matcher | None = None) -> Iterator[Entry]:
    """Entries not ignored, sorted, parents first; symlinks are not followed.

    A directory that is ignored but holds a re-included path is yielded (before
    its re-included children), as the docker CLI and BuildKit send it.
    """
    root = str(context_dir)
    yield from _walk(root, "", matcher)


def _walk(root: str, rel: str, matcher: Matcher | None) -> Iterator[Entry]:
    full = os.path.join(root, rel) if rel else root
    try:
        names = sorted(os.listdir(full))
    except FileNotFoundError:
        return
    for name in names:
        path = f"{rel}/{name}" if rel else name
        st = os.lstat(os.path.join(root, path))
        ignored = matcher is not None and matcher.matches(path)
        if stat.S_ISDIR(st.st_mode):
            if ignored:
                assert matcher is not None
                if not matcher.exclusions or matcher.can_skip_dir(path):
                    continue
                children = list(_walk(root, path, matcher))
                if children:
                    yield Entry(path, st)
                    yield from children
                continue
            yield Entry(path, st)
            yield from _walk(root, path, matcher)
        elif not ignored:
            yield Entry(path, st)
