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

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hull.build.expand import ExpandError, Lex
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
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_GO_SPACE += "\u2028\u2029\u202f\u205f\u3000"
_RE_WS = re.compile(r"[\t\v\f\r ]+")
_RE_HEREDOC = re.compile(r"\A(\d*)<<(-?)\s*([^<]*)\Z")
_RE_DIRECTIVE = re.compile(r"\A([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*\Z", re.DOTALL)
_DIRECTIVE_KEYS = ("syntax", "escape", "check")
_HEREDOC_CMDS = ("add", "copy", "run")


def _go_trim(s: str) -> str:
    return s.strip(_GO_SPACE)


def _go_ltrim(s: str) -> str:
    return s.lstrip(_GO_SPACE)


def _is_comment(line: str) -> bool:
    return _go_ltrim(line).startswith("#")


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
        m = _RE_DIRECTIVE.match(_go_ltrim(line[1:]))
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
            line = _go_ltrim(line)
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
            c = _go_trim(raw[1:])
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
            if not _go_ltrim(cur.rstrip("\r\n")):
                empty_cont = True
                continue
            cur, eol = st.trim_continuation(cur)
            buf.append(cur)
        joined = "".join(buf)
        if empty_cont:
            warnings.append(f"Empty continuation line found in: {joined}")
        try:
            node = _node_from_line(joined, st.directives.escape, start, i, tuple(comments))
        except _LineError as exc:
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


class _LineError(Exception):
    pass


def _node_from_line(
    line: str, escape: str, start: int, end: int, comments: tuple[str, ...]
) -> Node:
    cmd, flags, rest = _split_command(line, escape)
    name = cmd.lower()
    sub: Node | None = None
    is_json = False
    if name == "onbuild":
        args: tuple[str, ...] = ()
        if rest:
            sub = _node_from_line(rest, escape, start, end, ())
    else:
        fn = _LINE_PARSERS.get(name)
        # BuildKit's parseIgnore leaves one empty argument for an unknown instruction
        args, is_json = fn(rest, escape) if fn is not None else (("",), False)
    return Node(cmd, args, tuple(flags), line, start, end, is_json, (), sub, comments)


def _split_command(line: str, escape: str) -> tuple[str, list[str], str]:
    parts = _RE_WS.split(_go_trim(line), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    rest, flags = _extract_flags(parts[1], escape)
    return parts[0], flags, _go_trim(rest)


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading ``--word`` items; quotes group, the escape escapes (BuildKit rules)."""
    words: list[str] = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos] in _GO_SPACE:
            pos += 1
        if pos == n:
            return "", words
        if not line.startswith("--", pos):
            return line[pos:], words
        word: list[str] = []
        blank_ok = False
        quote = ""
        while pos < n:
            ch = line[pos]
            if quote:
                if ch == quote:
                    quote = ""
                    pos += 1
                    continue
                if ch == escape:
                    if pos + 1 == n:
                        quote = ""
                        pos += 1
                        continue
                    pos += 1
                    ch = line[pos]
                word.append(ch)
                pos += 1
                continue
            if ch in _GO_SPACE:
                break
            if ch in "'\"":
                quote = ch
                blank_ok = True
                pos += 1
                continue
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word.append(ch)
            pos += 1
        w = "".join(word)
        if pos < n and w == "--":
            return line[pos:], words
        if w != "--" and (blank_ok or w):
            words.append(w)
        if pos >= n:
            return "", words


def _parse_words(rest: str, escape: str) -> list[str]:
    """Words split on whitespace; quotes and escapes are kept for later expansion."""
    words: list[str] = []
    buf: list[str] = []
    in_word = False
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while pos < n:
        ch = rest[pos]
        if not in_word:
            if ch in _GO_SPACE:
                pos += 1
                continue
            in_word = True
        if not quote:
            if ch in _GO_SPACE:
                if blank_ok or buf:
                    words.append("".join(buf))
                buf = []
                blank_ok = False
                in_word = False
                pos += 1
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
            elif ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        # inside quotes
        if ch == quote:
            quote = ""
        elif ch == escape and quote != "'":
            if pos + 1 == n:
                quote = ""
                pos += 1
                continue
            buf.append(ch)
            pos += 1
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    if in_word and (blank_ok or buf):
        words.append("".join(buf))
    return words


_Parsed = tuple[tuple[str, ...], bool]


def _parse_json(rest: str) -> tuple[str, ...] | None:
    rest = _go_ltrim(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_no_constant, parse_float=_go_float)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise _LineError("when using JSON array syntax, arrays must be comprised of strings only")
    return tuple(value)


def _no_constant(name: str) -> object:
    raise ValueError(name)  # Go's encoding/json has no NaN/Infinity


def _go_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(text)  # out of range for Go's float64: not JSON to Go
    return value


def _maybe_json(rest: str, escape: str) -> _Parsed:
    if not rest:
        return (), False
    arr = _parse_json(rest)
    if arr is not None:
        return arr, True
    return (rest,), False


def _maybe_json_to_list(rest: str, escape: str) -> _Parsed:
    arr = _parse_json(rest)
    if arr is not None:
        return arr, True
    return _whitespace_words(rest, escape)


def _whitespace_words(rest: str, escape: str) -> _Parsed:
    if not rest:
        return (), False
    return tuple(_RE_WS.split(rest)), False


def _string(rest: str, escape: str) -> _Parsed:
    return ((rest,) if rest else ()), False


def _name_or_name_val(rest: str, escape: str) -> _Parsed:
    return tuple(_parse_words(rest, escape)), False


def _name_val(rest: str, escape: str, key: str) -> _Parsed:
    words = _parse_words(rest, escape)
    if not words:
        return (), False
    if "=" not in words[0]:
        parts = _RE_WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise _LineError(f"{key} must have two arguments")
        return (parts[0], parts[1], ""), False
    out: list[str] = []
    for w in words:
        if "=" not in w:
            raise _LineError(
                f"Syntax error - can't find = in {_go_q(w)}. Must be of the form: name=value"
            )
        k, v = w.split("=", 1)
        out += [k, v, "="]
    return tuple(out), False


def _go_q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _health(rest: str, escape: str) -> _Parsed:
    sep = 0
    while sep < len(rest) and rest[sep] not in _GO_SPACE:
        sep += 1
    if sep == 0:
        return (), False
    nxt = sep
    while nxt < len(rest) and rest[nxt] in _GO_SPACE:
        nxt += 1
    cmd, is_json = _maybe_json(rest[nxt:], escape)
    return (rest[:sep], *cmd), is_json


_LINE_PARSERS = {
    "add": _maybe_json_to_list,
    "arg": _name_or_name_val,
    "cmd": _maybe_json,
    "copy": _maybe_json_to_list,
    "entrypoint": _maybe_json,
    "env": lambda r, e: _name_val(r, e, "ENV"),
    "expose": _whitespace_words,
    "from": _whitespace_words,
    "healthcheck": _health,
    "label": lambda r, e: _name_val(r, e, "LABEL"),
    "maintainer": _string,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _string,
    "user": _string,
    "volume": _maybe_json_to_list,
    "workdir": _string,
}


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
