"""Real-world Dockerfiles: our parse must equal BuildKit's (via the ``dockerfile`` package).

The ``dockerfile`` wheel wraps an older BuildKit parser than the one hull
follows (moby/buildkit 73ed6825); the differences that remain, all absent
from the corpus except the NUL one, are normalised here:

- ENV/LABEL nodes: newer BuildKit adds a third node per pair ("=" or "");
- a node's ``original``: the wheel appends heredoc bodies, BuildKit now does not;
- strings cross cgo as C strings, so the wheel truncates a value at a NUL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hull.build.instructions import from_nodes
from hull.build.parser import DockerfileError, parse_ast

dockerfile = pytest.importorskip("dockerfile")

CORPUS = Path(__file__).resolve().parents[2] / "data" / "dockerfiles"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")
Row = tuple[object, ...]


def _nul(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.split("\0", 1)[0] for v in values)


def theirs(path: Path) -> list[Row]:
    out: list[Row] = []
    for c in dockerfile.parse_file(str(path)):
        docs = tuple((h.name, h.content) for h in c.heredocs)
        original = c.original if not docs else None
        sub = c.sub_cmd.lower() if c.sub_cmd else None
        out.append(
            (
                c.cmd.lower(),
                sub,
                c.start_line,
                c.end_line,
                c.flags,
                _nul(c.value),
                c.json,
                docs,
                original,
            )
        )
    return out


def ours(path: Path) -> list[Row]:
    out: list[Row] = []
    for n in parse_ast(path.read_text(encoding="utf-8")).nodes:
        t = n.sub or n
        args = t.args
        if t.name in ("env", "label"):
            args = tuple(a for i, a in enumerate(args) if i % 3 != 2)
        docs = tuple((h.name, h.content) for h in n.heredocs)
        original = n.original if not docs else None
        sub = n.sub.name if n.sub else None
        out.append(
            (n.name, sub, n.start_line, n.end_line, n.flags, _nul(args), t.json, docs, original)
        )
    return out


def test_corpus_is_big_enough() -> None:
    assert len(FILES) >= 100


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_same_as_buildkit(path: Path) -> None:
    try:
        expected: object = theirs(path)
    except dockerfile.GoParseError as exc:
        expected = ("error", str(exc))
    try:
        got: object = ours(path)
    except DockerfileError as exc:
        got = ("error", exc.reason)
    assert got == expected


@pytest.mark.parametrize(
    "path", [p for p in FILES if p.parent.name != "buildkit-testfiles"], ids=lambda p: p.name
)
def test_typed_instructions(path: Path) -> None:
    result = parse_ast(path.read_text(encoding="utf-8"))
    assert len(from_nodes(result.nodes, escape=result.escape)) == len(result.nodes)
