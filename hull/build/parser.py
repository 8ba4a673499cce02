"""The Dockerfile parser: text to a list of nodes, exactly as BuildKit's.

A port of the rules of moby/buildkit ``frontend/dockerfile/parser`` (read at
73ed6825, Aug 2025), not of its code:

- parser directives (``# syntax=``, ``# escape=``, ``# check=``) are recognised
  only on the lines before anything else (a blank line, another comment or an
  instruction ends them); keys are case-insensitive; a repeated one is an
  error; ``escape`` is ``\\`` or a backtick;
- a line whose last non-blank character is the escape character continues on
  the next line; comment lines and blank lines inside a continuation are
  dropped (the latter with a warning); leading whitespace of continuation lines
  is kept;
- the instruction word is split off, then ``--flags`` up to the first word
  not starting with ``--``, then the rest goes to a per-instruction "line
  parser" (JSON array or shell string, key=value pairs, whitespace words...);
- heredocs (``<<EOF``, ``<<-EOF``, ``<<"EOF"``, several per line) follow
  ADD, COPY and RUN (also under ONBUILD) in shell form.

``parse_ast`` gives the nodes; ``parse`` gives the typed instructions
(``instructions.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hull.build.expand import ExpandError, Lex
from hull.build.lineparsers import (
    LINE_PARSERS,
    LineError,
    go_ltrim,
    go_trim,
    split_command,
)
from hull.errors import InvalidArgument

if TYPE_CHECKING:
    from hull.build.instructions import Instruction

__all__ = [
    "Directives",
    "DockerfileError",
    "Heredoc",
    "Node",
    "ParseResult",
    "parse",
    "parse_ast",
    "parse_heredoc",
]


class DockerfileError(InvalidArgument):
    """A Dockerfile that BuildKit would refuse; the message names the line."""

    def __init__(
        self, msg: str, line: int, *, end_line: int = 0, column: int = 1, filename: str = ""
    ) -> None:
        self.reason = msg
        self.filename = filename or "Dockerfile"
        self.line = line
        self.end_line = max(end_line, line)
        self.column = column
        super().__init__(f"{self.filename}:{line}: {msg}")


@dataclass(frozen=True)
class Heredoc:
    """One here-document: its delimiter word and the lines up to it."""

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    file_descriptor: int = 0


@dataclass(frozen=True)
class Node:
    """One instruction as BuildKit's AST holds it (args after the line parser)."""

    cmd: str  # as written
    args: tuple[str, ...]
    flags: tuple[str, ...]
    original: str
    start_line: int
    end_line: int
    json: bool = False
    heredocs: tuple[Heredoc, ...] = ()
    sub: Node | None = None  # the instruction under ONBUILD
    comments: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The instruction name in lower case, as BuildKit dispatches on it."""
        return self.cmd.lower()


@dataclass
class Directives:
    """Parser directives found at the top of the file."""

    escape: str = "\\"
    syntax: str | None = None
    check: str | None = None


@dataclass
class ParseResult:
    """The nodes, the directives in force and the warnings of one Dockerfile."""

    nodes: list[Node]
    directives: Directives
    warnings: list[str] = field(default_factory=list)

    @property
    def escape(self) -> str:
        """The escape character in force (``\\`` or a backtick)."""
        return self.directives.escape


# Go's unicode.IsSpace (str.isspace differs: it includes \x1c-\x1f)
_RE_HEREDOC = re.compile(r"\A(\d*)<<(-?)\s*([^<]*)\Z")
_RE_DIRECTIVE = re.compile(r"\A([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*\Z", re.DOTALL)
_DIRECTIVE_KEYS = ("syntax", "escape", "check")
_HEREDOC_CMDS = ("add", "copy", "run")


def _is_comment(line: str) -> bool:
    return go_ltrim(line).startswith("#")


class _DirectiveParser:
    def __init__(self) -> None:
        self.done = False
        self.seen: set[str] = set()

    def parse_line(self, line: str) -> tuple[str, str] | None:
        if self.done:
            return None
        if not line.startswith("#"):
            self.done = True
            return None
        m = _RE_DIRECTIVE.match(go_ltrim(line[1:]))
        if m is None or m.group(1).lower() not in _DIRECTIVE_KEYS:
            self.done = True
            return None
        key = m.group(1).lower()
        if key in self.seen:
            raise ValueError(f"only one {key} parser directive can be used")
        self.seen.add(key)
        return key, m.group(2)


class _State:
    def __init__(self) -> None:
        self.directives = Directives()
        self.dp = _DirectiveParser()
        self._set_escape("\\")

    def _set_escape(self, esc: str) -> None:
        if esc not in ("`", "\\"):
            raise ValueError(f"invalid escape token '{esc}' does not match ` or \\")
        self.directives.escape = esc
        e = re.escape(esc)
        self.continuation = re.compile(rf"([^{e}]){e}[ \t]*\Z|\A{e}[ \t]*\Z", re.DOTALL)

    def process_line(self, raw: str, strip_left: bool) -> tuple[str, bool]:
        line = raw.rstrip("\r\n")
        if strip_left:
            line = go_ltrim(line)
        found = self.dp.parse_line(line)
        if found is not None:
            key, value = found
            if key == "escape":
                self._set_escape(value)
            elif key == "syntax":
                self.directives.syntax = value
            else:
                self.directives.check = value
        return ("" if _is_comment(line) else line), found is not None

    def trim_continuation(self, line: str) -> tuple[str, bool]:
        if self.continuation.search(line):
            return self.continuation.sub(r"\1", line), False
        return line, True


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    out = [ln + "\n" for ln in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def parse_ast(text: str, filename: str = "Dockerfile") -> ParseResult:
    """Parse Dockerfile text into nodes; raises DockerfileError naming the line."""
    if not text.strip():
        raise DockerfileError(f"the Dockerfile ({filename}) cannot be empty", 1, filename=filename)
    st = _State()
    lines = _split_lines(text)
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    nodes: list[Node] = []
    warnings: list[str] = []
    comments: list[str] = []
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i]
        line_no = i + 1
        i += 1
        if _is_comment(raw):
            # BuildKit drops the first byte, not the '#' (matters with indentation)
            c = go_trim(raw[1:])
            if c:
                comments.append(c)
            else:
                comments = []
        try:
            cur, is_directive = st.process_line(raw, True)
        except ValueError as exc:
            raise DockerfileError(str(exc), line_no, filename=filename) from None
        if is_directive:
            comments = comments[:-1]
        start = line_no
        cur, eol = st.trim_continuation(cur)
        if eol and not cur:
            continue
        buf = [cur]
        empty_cont = False
        while not eol and i < n:
            raw = lines[i]
            i += 1
            try:
                cur, _ = st.process_line(raw, False)
            except ValueError as exc:
                raise DockerfileError(str(exc), i, filename=filename) from None
            if _is_comment(raw):
                continue
            if not go_ltrim(cur.rstrip("\r\n")):
                empty_cont = True
                continue
            cur, eol = st.trim_continuation(cur)
            buf.append(cur)
        joined = "".join(buf)
        if empty_cont:
            warnings.append(f"Empty continuation line found in: {joined}")
        try:
            node = _node_from_line(joined, st.directives.escape, start, i, tuple(comments))
        except LineError as exc:
            raise DockerfileError(str(exc), start, end_line=i, filename=filename) from None
        target = node.sub if node.sub is not None else node
        if (
            target.name in _HEREDOC_CMDS
            and not target.json
            and node.name in ("onbuild", *_HEREDOC_CMDS)
            and "<<" in joined
        ):
            docs: list[Heredoc] = []
            try:
                found = _heredocs_from_line(joined)
            except ExpandError as exc:
                raise DockerfileError(exc.message, start, end_line=i, filename=filename) from None
            for doc in found:
                content: list[str] = []
                terminated = False
                while i < n:
                    raw = lines[i]
                    i += 1
                    term = raw.rstrip("\r\n")
                    if doc.chomp:
                        term = term.lstrip("\t")
                    if term == doc.name:
                        terminated = True
                        break
                    content.append(raw)
                if not terminated:
                    raise DockerfileError(
                        "unterminated heredoc", start, end_line=i, filename=filename
                    )
                docs.append(
                    Heredoc(doc.name, "".join(content), doc.expand, doc.chomp, doc.file_descriptor)
                )
            node = _with_heredocs(node, tuple(docs))
        node = _with_lines(node, start, i)
        nodes.append(node)
        comments = []
    if not nodes:
        raise DockerfileError("file with no instructions", max(1, n), filename=filename)
    return ParseResult(nodes, st.directives, warnings)


def _with_lines(node: Node, start: int, end: int) -> Node:
    sub = node.sub
    if sub is not None:
        sub = _with_lines(sub, start, end)
    return Node(
        node.cmd, node.args, node.flags, node.original, start, end, node.json,
        node.heredocs, sub, node.comments,
    )  # fmt: skip


def _with_heredocs(node: Node, docs: tuple[Heredoc, ...]) -> Node:
    sub = node.sub
    if sub is not None:
        sub = _with_heredocs(sub, docs)
    return Node(
        node.cmd, node.args, node.flags, node.original, node.start_line, node.end_line,
        node.json, docs, sub, node.comments,
    )  # fmt: skip


def _node_from_line(
    line: str, escape: str, start: int, end: int, comments: tuple[str, ...]
) -> Node:
    cmd, flags, rest = split_command(line, escape)
    name = cmd.lower()
    sub: Node | None = None
    is_json = False
    if name == "onbuild":
        args: tuple[str, ...] = ()
        if rest:
            sub = _node_from_line(rest, escape, start, end, ())
    else:
        fn = LINE_PARSERS.get(name)
        # BuildKit's parseIgnore leaves one empty argument for an unknown instruction
        args, is_json = fn(rest, escape) if fn is not None else (("",), False)
    return Node(cmd, args, tuple(flags), line, start, end, is_json, (), sub, comments)


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word like ``<<EOF``, ``<<-"EOF"`` or ``3<<EOF`` opens, or None."""
    m = _RE_HEREDOC.match(word)
    if m is None or not m.group(3):
        return None
    rest = m.group(3)
    lex = Lex(escape="\\", skip_unset_env=True)
    words = lex.process_words(rest, {})
    if len(words) != 1:
        return None
    lex.raw_quotes = True
    raw = lex.process_words(rest, {})
    if len(raw) != 1:
        raise ExpandError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=words[0],
        expand=quotes == raw_quotes,
        chomp=m.group(2) == "-",
        file_descriptor=int(m.group(1) or 0),
    )


def _heredocs_from_line(line: str) -> list[Heredoc]:
    lex = Lex(escape="\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, {})
    except ExpandError:
        words = []
    docs = []
    for w in words:
        doc = parse_heredoc(w)
        if doc is not None:
            docs.append(doc)
    return docs


def parse(text: str, filename: str = "Dockerfile") -> list[Instruction]:
    """Parse Dockerfile text into typed instructions (see ``instructions.py``)."""
    from hull.build.instructions import from_nodes

    result = parse_ast(text, filename)
    return from_nodes(result.nodes, escape=result.escape, filename=filename)
