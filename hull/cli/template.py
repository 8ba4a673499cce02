"""The Go ``text/template`` subset that ``--format`` flags accept, as the docker CLI's.

    {{.Field}} {{.A.B}} {{.}} {{$}} {{$v}}          fields of maps (and attributes)
    {{json .}} {{index .M "key"}} {{join .L ","}}   Docker's functions: json, join,
    {{upper .X}} {{lower .X}} {{title .X}}          split, upper, lower, title, pad,
    {{printf "%s-%d" .A .B}} {{println .X}}         truncate, and Go's: print, printf,
    {{len .L}} {{eq .A "x"}} {{and .A .B}} {{not .A}}  println, index, len, eq, ne, lt,
    {{if .X}}..{{else if .Y}}..{{else}}..{{end}}    le, gt, ge, and, or, not
    {{range .L}}..{{else}}..{{end}} {{range $i, $e := .L}}  {{with .X}}..{{end}}
    {{- trim -}}  {{/* comment */}}  (pipelines) .X | lower

Values print as Go's ``%v``: ``<no value>`` for a missing map key, ``<nil>``,
``map[a:1]``, ``[a b]``, ``true``. ``parse`` raises ``TemplateError`` with
``parse=True`` (the CLI exits 64 as docker does), execution errors with
``parse=False``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .gofmt import FUNCS, NO_VALUE, TemplateError, go_printf, go_str, truthy

# ---------------------------------------------------------------- nodes


@dataclass
class Field:
    base: str  # "." for dot, "$" or "$name" for a variable
    names: list[str]


@dataclass
class Literal:
    value: Any


@dataclass
class Ident:
    name: str


@dataclass
class Pipeline:
    decl: list[str]
    cmds: list[list[Any]]  # each: [Ident|Field|Literal|Pipeline, args...]


@dataclass
class Chain:
    pipe: Pipeline
    names: list[str]


@dataclass
class Action:
    pipe: Pipeline


@dataclass
class Control:
    kind: str  # if, range, with
    pipe: Pipeline
    body: list[Any] = field(default_factory=list)
    else_body: list[Any] = field(default_factory=list)


# ---------------------------------------------------------------- lexing

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*") | (?P<raw>`[^`]*`) |
      (?P<num>-?\d+(?:\.\d+)?) |
      (?P<field>(?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z0-9_]+)+|\.|\$[A-Za-z0-9_]*) |
      (?P<ident>[A-Za-z_][A-Za-z0-9_]*) |
      (?P<op>:=|=|\||\(|\)|,)
    )""",
    re.X,
)


def _tokens(src: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    src = src.rstrip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"unexpected {src[pos:].strip()[:10]!r} in command", parse=True)
        kind = m.lastgroup
        assert kind is not None
        val = m.group(kind)
        after_paren = bool(out) and out[-1] == ("op", ")") and m.start(kind) == pos
        if kind == "field" and val.startswith(".") and after_paren:
            kind = "chain"  # "(index .L 0).Name": a field of the result
        out.append((kind, val))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = self._split(text)
        self.pos = 0

    @staticmethod
    def _split(text: str) -> list[tuple[str, str]]:
        """("text", s) and ("action", inner) in order, with ``{{-``/``-}}`` applied."""
        out: list[tuple[str, str]] = []
        pos = 0
        trim_next = False
        while True:
            start = text.find("{{", pos)
            chunk = text[pos : start if start >= 0 else len(text)]
            if trim_next:
                chunk = chunk.lstrip()
            if start < 0:
                if chunk:
                    out.append(("text", chunk))
                return out
            inner_start = start + 2
            if text.startswith("- ", inner_start) or text.startswith("-\n", inner_start):
                chunk = chunk.rstrip()
                inner_start += 1
            if chunk:
                out.append(("text", chunk))
            end = text.find("}}", inner_start)
            if end < 0:
                raise TemplateError("unclosed action", parse=True)
            inner = text[inner_start:end]
            trim_next = inner.endswith(" -") or inner.endswith("\n-")
            if trim_next:
                inner = inner[:-1]
            inner = inner.strip()
            if not (inner.startswith("/*") and inner.endswith("*/")):
                out.append(("action", inner))
            pos = end + 2

    def parse(self) -> list[Any]:
        nodes, stop = self._list()
        if stop is not None:
            raise TemplateError(f"unexpected {{{{{stop}}}}}", parse=True)
        return nodes

    def _list(self) -> tuple[list[Any], str | None]:
        nodes: list[Any] = []
        while self.pos < len(self.items):
            kind, val = self.items[self.pos]
            self.pos += 1
            if kind == "text":
                nodes.append(val)
                continue
            word = val.split(None, 1)[0] if val else ""
            if word in ("end", "else"):
                return nodes, val
            if word in ("if", "range", "with"):
                nodes.append(self._control(word, val[len(word) :]))
            else:
                nodes.append(Action(self._pipeline(_tokens(val))))
        return nodes, None

    def _control(self, kind: str, rest: str) -> Control:
        node = Control(kind, self._pipeline(_tokens(rest)))
        node.body, stop = self._list()
        if stop is None:
            raise TemplateError(f"unexpected EOF: missing {{{{end}}}} for {kind}", parse=True)
        if stop.startswith("else"):
            tail = stop[4:].strip()
            if tail.startswith("if ") or tail.startswith("with "):
                sub = tail.split(None, 1)[0]
                # "else if" is an if nested in the else branch, sharing its {{end}}
                node.else_body = [self._control(sub, tail[len(sub) :])]
                return node
            node.else_body, stop = self._list()
            if stop != "end":
                raise TemplateError(f"expected {{{{end}}}} for {kind}", parse=True)
        elif stop != "end":
            raise TemplateError(f"unexpected {{{{{stop}}}}}", parse=True)
        return node

    def _pipeline(self, toks: list[tuple[str, str]]) -> Pipeline:
        if not toks:
            raise TemplateError("missing value for command", parse=True)
        decl: list[str] = []
        ops = [t for t in toks if t[0] == "op" and t[1] in (":=", "=")]
        if ops:
            i = toks.index(ops[0])
            decl = [t[1] for t in toks[:i] if t[0] == "field"]
            toks = toks[i + 1 :]
        cmds: list[list[Any]] = []
        cur: list[Any] = []
        i = 0
        while i < len(toks):
            kind, val = toks[i]
            i += 1
            if kind == "op" and val == "|":
                if not cur:
                    raise TemplateError("missing command before |", parse=True)
                cmds.append(cur)
                cur = []
            elif kind == "op" and val == "(":
                depth, j = 1, i
                while j < len(toks) and depth:
                    if toks[j] == ("op", "("):
                        depth += 1
                    elif toks[j] == ("op", ")"):
                        depth -= 1
                    j += 1
                if depth:
                    raise TemplateError("unclosed left paren", parse=True)
                sub: Any = self._pipeline(toks[i : j - 1])
                i = j
                if i < len(toks) and toks[i][0] == "chain":
                    sub = Chain(sub, [n for n in toks[i][1].split(".") if n])
                    i += 1
                cur.append(sub)
            elif kind == "op":
                raise TemplateError(f"unexpected {val!r} in command", parse=True)
            else:
                cur.append(_term(kind, val))
        if not cur:
            raise TemplateError("missing command", parse=True)
        cmds.append(cur)
        return Pipeline(decl, cmds)


def _term(kind: str, val: str) -> Any:
    if kind == "str":
        return Literal(json.loads(val))
    if kind == "raw":
        return Literal(val[1:-1])
    if kind == "num":
        return Literal(float(val) if "." in val else int(val))
    if kind == "field":
        if val.startswith("$"):
            base, _, rest = val.partition(".")
            return Field(base, rest.split(".") if rest else [])
        return Field(".", [n for n in val.split(".") if n])
    if val in ("true", "false"):
        return Literal(val == "true")
    if val == "nil":
        return Literal(None)
    if val not in FUNCS:
        raise TemplateError(f'function "{val}" not defined', parse=True)
    return Ident(val)


# ---------------------------------------------------------------- execution


class Template:
    """A parsed template; ``render(data)`` executes it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.nodes = _Parser(text).parse()

    def render(self, data: Any) -> str:
        out: list[str] = []
        self._exec(self.nodes, data, {"$": data}, out)
        return "".join(out)

    def _exec(self, nodes: list[Any], dot: Any, vars: dict[str, Any], out: list[str]) -> None:
        for n in nodes:
            if isinstance(n, str):
                out.append(n)
            elif isinstance(n, Action):
                v = self._pipe(n.pipe, dot, vars)
                if not n.pipe.decl:
                    out.append(go_str(v))
            else:
                self._control(n, dot, vars, out)

    def _control(self, n: Control, dot: Any, vars: dict[str, Any], out: list[str]) -> None:
        scope = dict(vars)
        if n.kind == "range":
            coll = self._eval_cmds(n.pipe.cmds, dot, scope)
            if isinstance(coll, Mapping):
                pairs = [(k, coll[k]) for k in sorted(coll, key=str)]
            elif isinstance(coll, list | tuple):
                pairs = list(enumerate(coll))
            elif coll is None or coll is NO_VALUE:
                pairs = []
            elif isinstance(coll, int) and not isinstance(coll, bool):
                pairs = [(i, i) for i in range(coll)]
            else:
                raise TemplateError(f"range can't iterate over {go_str(coll)}")
            if not pairs:
                self._exec(n.else_body, dot, scope, out)
            for k, v in pairs:
                if len(n.pipe.decl) == 1:
                    scope[n.pipe.decl[0]] = v
                elif len(n.pipe.decl) >= 2:
                    scope[n.pipe.decl[0]], scope[n.pipe.decl[1]] = k, v
                self._exec(n.body, v, scope, out)
            return
        v = self._pipe(n.pipe, dot, scope)
        if truthy(v):
            self._exec(n.body, v if n.kind == "with" else dot, scope, out)
        else:
            self._exec(n.else_body, dot, scope, out)

    def _pipe(self, p: Pipeline, dot: Any, vars: dict[str, Any]) -> Any:
        v = self._eval_cmds(p.cmds, dot, vars)
        for name in p.decl:
            vars[name] = v
        return v

    def _eval_cmds(self, cmds: list[list[Any]], dot: Any, vars: dict[str, Any]) -> Any:
        piped: Any = NO_VALUE
        has_piped = False
        for cmd in cmds:
            head = cmd[0]
            args = [self._arg(a, dot, vars) for a in cmd[1:]]
            if has_piped:
                args.append(piped)
            if isinstance(head, Ident):
                try:
                    piped = FUNCS[head.name](*args)
                except TemplateError:
                    raise
                except Exception as exc:
                    raise TemplateError(f"error calling {head.name}: {exc}") from exc
            else:
                if args:
                    raise TemplateError(f"can't give argument to non-function {head}")
                piped = self._arg(head, dot, vars)
            has_piped = True
        return piped

    def _arg(self, a: Any, dot: Any, vars: dict[str, Any]) -> Any:
        if isinstance(a, Literal):
            return a.value
        if isinstance(a, Pipeline):
            return self._eval_cmds(a.cmds, dot, vars)
        if isinstance(a, Chain):
            v = self._eval_cmds(a.pipe.cmds, dot, vars)
            for name in a.names:
                v = lookup(v, name)
            return v
        if isinstance(a, Ident):
            return FUNCS[a.name]()
        assert isinstance(a, Field)
        if a.base == ".":
            v = dot
        elif a.base in vars:
            v = vars[a.base]
        else:
            raise TemplateError(f'undefined variable "{a.base}"', parse=True)
        for name in a.names:
            v = lookup(v, name)
        return v


def lookup(v: Any, name: str) -> Any:
    """``.name`` of a map (missing key: ``<no value>``) or an object's attribute."""
    if isinstance(v, Mapping):
        return v.get(name, NO_VALUE)
    if v is None or v is NO_VALUE:
        raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
    if hasattr(v, name) and not name.startswith("_"):
        return getattr(v, name)
    raise TemplateError(f"can't evaluate field {name} in type {type(v).__name__}")


def parse(text: str) -> Template:
    """Parse once, render many times."""
    return Template(text)


def render(text: str, data: Any) -> str:
    """Parse and execute in one go."""
    return Template(text).render(data)


__all__ = [
    "FUNCS",
    "NO_VALUE",
    "Template",
    "TemplateError",
    "go_printf",
    "go_str",
    "lookup",
    "parse",
    "render",
    "truthy",
]
