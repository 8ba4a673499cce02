"""Shell-word expansion of Dockerfile arguments, and the ARG scoping rules.

The lexer follows BuildKit's ``frontend/dockerfile/shell/lex.go`` (read at
moby/buildkit 73ed6825, Aug 2025) rule for rule, including its quirks, so that
a word expands here exactly as ``docker build`` expands it:

- ``$VAR`` and ``${VAR}``; names are letters, digits and ``_``; ``$1``.. read all
  digits, ``$@ $* $# $? $- $$ $! $0`` read one character; all of them are unset.
- ``${VAR:-w}`` ``${VAR-w}`` ``${VAR:+w}`` ``${VAR+w}`` ``${VAR:?w}`` ``${VAR?w}``;
- ``${VAR#pat}`` ``${VAR##pat}`` ``${VAR%pat}`` ``${VAR%%pat}`` (``*`` and ``?``
  wildcards, no bracket expressions), ``${VAR/pat/repl}`` and ``${VAR//pat/repl}``
  (BuildKit supports all of these since v0.13/v0.14); ``${VAR:=w}`` is an error;
- single quotes: literal; double quotes: ``$`` expands and the escape character
  escapes only ``"``, ``$`` and itself; outside quotes the escape character
  escapes any character and is dropped at the end of the word.

``process_words`` splits on whitespace after expansion (quoted text is never
split).  BuildKit shares one word buffer between nested ``${...}`` scans, so a
word that precedes a ``${VAR:-x}`` in the same word is lost
(``a${X:-b}c`` splits to ``["bc"]``); we reproduce that, since hull must split
exactly as docker does.

Which instruction expands what (BuildKit's ``Expand`` methods and
``dispatch*``): FROM (image and ``--platform``, with the global ARGs only), ADD
and COPY (sources, destination, ``--chown``, ``--chmod``, ``--checksum``,
``--from``), ENV and LABEL (keys and values), ARG (names and defaults), EXPOSE
(split into words), STOPSIGNAL, USER, VOLUME, WORKDIR, and RUN ``--mount``
values.  RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD are
never expanded by the builder: the shell in the container does it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hull.errors import InvalidArgument

__all__ = [
    "BUILTIN_PROXY_ARGS",
    "PLATFORM_ARGS",
    "ArgScope",
    "ExpandError",
    "Lex",
    "expand_word",
    "expand_words",
    "unused_build_args",
]


class ExpandError(InvalidArgument):
    """A word could not be expanded (bad substitution, unset ``${X:?}``...)."""


_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_WS = frozenset("\t\r ")


def _is_space(ch: str) -> bool:
    # Go's unicode.IsSpace
    return ch in "\t\n\v\f\r \x85\xa0" or (ch >= "\u1680" and ch.isspace())


class _Scanner:
    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        if self.pos >= len(self.text):
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        return ch


class _Words:
    """BuildKit's wordsStruct; ``buf`` is shared with nested scans on purpose."""

    def __init__(self, buf: list[str]) -> None:
        self.buf = buf
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if _is_space(ch):
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf.clear()
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw_string(self, s: str) -> None:
        self.buf.append(s)
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.buf and "".join(self.buf):
            self.words.append("".join(self.buf))
            self.buf.clear()
            self.in_word = False
        return self.words


@dataclass
class Lex:
    """A configured expander; one call at a time (it keeps scan state)."""

    escape: str = "\\"
    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_process_quotes: bool = False
    skip_unset_env: bool = False
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand ``word`` into one string (spaces kept)."""
        return self._process(word, env)[0]

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand ``word`` and split it into words as BuildKit does."""
        return self._process(word, env)[1]

    def _process(self, word: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
        self._sc = _Scanner(word)
        self._env = env
        self._raw_esc = self.raw_escapes
        self._wbuf: list[str] = []
        self.matched = set()
        self.unmatched = set()
        try:
            return self._stop_on("", self.raw_escapes)
        except ExpandError as exc:
            raise ExpandError(f"failed to process {_go_quote(word)}: {exc.message}") from None

    def _get(self, name: str) -> tuple[str, bool]:
        if name in self._env:
            self.matched.add(name)
            return self._env[name], True
        self.unmatched.add(name)
        return "", False

    def _stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        sc = self._sc
        result: list[str] = []
        self._wbuf.clear()  # BuildKit resets the shared buffer here
        words = _Words(self._wbuf)
        saved = self._raw_esc
        self._raw_esc = raw_escapes
        try:
            while sc.peek() != "":
                ch = sc.peek()
                if stop and ch == stop:
                    sc.next()
                    return "".join(result), words.get_words()
                if ch == "$":
                    tmp = self._dollar()
                    result.append(tmp)
                    words.add_string(tmp)
                elif ch == "<":
                    tmp = self._possible_heredoc()
                    result.append(tmp)
                    words.add_raw_string(tmp)
                elif ch in "'\"" and not self.skip_process_quotes:
                    tmp = self._single_quote() if ch == "'" else self._double_quote()
                    result.append(tmp)
                    words.add_raw_string(tmp)
                else:
                    ch = sc.next()
                    if ch == self.escape:
                        if self._raw_esc:
                            words.add_raw_char(ch)
                            result.append(ch)
                        ch = sc.next()
                        if ch == "":
                            break
                        words.add_raw_char(ch)
                    else:
                        words.add_char(ch)
                    result.append(ch)
            if stop:
                raise ExpandError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(result), words.get_words()
        finally:
            self._raw_esc = saved

    def _single_quote(self) -> str:
        sc = self._sc
        out: list[str] = []
        ch = sc.next()
        if self.raw_quotes:
            out.append(ch)
        while True:
            ch = sc.next()
            if ch == "":
                raise ExpandError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def _double_quote(self) -> str:
        sc = self._sc
        out: list[str] = []
        ch = sc.next()
        if self.raw_quotes:
            out.append(ch)
        while True:
            p = sc.peek()
            if p == "":
                raise ExpandError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if p == '"':
                ch = sc.next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if p == "$":
                out.append(self._dollar())
                continue
            ch = sc.next()
            if ch == self.escape:
                if self._raw_esc:
                    out.append(ch)
                nxt = sc.peek()
                if nxt == "":
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = sc.next()
            out.append(ch)

    def _name(self) -> str:
        sc = self._sc
        name: list[str] = []
        while sc.peek() != "":
            ch = sc.peek()
            if not name and ch.isdigit():
                while sc.peek() != "" and sc.peek().isdigit():
                    name.append(sc.next())
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                return sc.next()
            if not (ch.isalpha() or ch.isdigit() or ch == "_"):
                break
            name.append(sc.next())
        return "".join(name)

    def _dollar(self) -> str:
        sc = self._sc
        sc.next()
        if sc.peek() != "{":
            name = self._name()
            if not name:
                return "$"
            value, found = self._get(name)
            if not found and self.skip_unset_env:
                return "$" + name
            return value
        sc.next()
        p = sc.peek()
        if p == "":
            raise ExpandError("syntax error: missing '}'")
        if p in "{}:":
            raise ExpandError("syntax error: bad substitution")
        name = self._name()
        ch = sc.next()
        chs = ch
        null_is_unset = False
        if ch == "}":
            value, found = self._get(name)
            if not found and self.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == ":":
            null_is_unset = True
            ch = sc.next()
            chs += ch
        elif ch == "/":
            return self._replace(name)
        elif ch == "" or ch not in "+-?#%":
            raise ExpandError(f"unsupported modifier ({chs}) in substitution")
        raw = ch != "" and ch in "#%"
        if null_is_unset and raw:
            raise ExpandError(f"unsupported modifier ({chs}) in substitution")
        try:
            word, _ = self._stop_on("}", raw)
        except ExpandError:
            if sc.peek() == "":
                raise ExpandError("syntax error: missing '}'") from None
            raise
        value, is_set = self._get(name)
        if self.skip_unset_env and not is_set:
            return "${" + name + chs + word + "}"
        empty = not is_set or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not is_set:
                raise ExpandError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise ExpandError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = bool(word) and word[0] == ch
            if greedy:
                word = word[1:]
            if ch == "%":
                return _trim_suffix(word, value, greedy)
            return _trim_prefix(word, value, greedy)
        raise ExpandError(f"unsupported modifier ({chs}) in substitution")

    def _replace(self, name: str) -> str:
        sc = self._sc
        replace_all = sc.peek() == "/"
        if replace_all:
            sc.next()
        try:
            pattern, _ = self._stop_on("/", True)
        except ExpandError:
            if sc.peek() == "":
                raise ExpandError("syntax error: missing '/' in ${}") from None
            raise
        try:
            repl, _ = self._stop_on("}", True)
        except ExpandError:
            if sc.peek() == "":
                raise ExpandError("syntax error: missing '}'") from None
            raise
        value, is_set = self._get(name)
        if self.skip_unset_env and not is_set:
            return "${" + name + "/" + pattern + "/" + repl + "}"
        rx = _pattern_regex(pattern, greedy=True, anchored=False)
        if replace_all:
            return rx.sub(lambda _m: repl, value)
        m = rx.search(value)
        return value if m is None else value[: m.start()] + repl + value[m.end() :]

    def _possible_heredoc(self) -> str:
        sc = self._sc
        sc.next()
        if sc.peek() != "<":
            return "<"
        sc.next()
        space: list[str] = []
        while sc.peek() in _WS and sc.peek() != "":
            space.append(sc.next())
        return "<<" + "".join(space)


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """BuildKit's convertShellPatternToRegex: ``*``, ``?`` and ``\\`` escapes."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):
                continue
            i += 1
            if nxt not in ("*", "?", "\\"):
                raise ExpandError(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'"
                )
            out.append(re.escape(nxt))
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value if m is None else value[m.end() :]


def _reverse_pattern(pattern: str) -> str:
    out = [""] * len(pattern)
    last = len(pattern) - 1
    i = 0
    while i <= last:
        tok = pattern[i]
        o = last - i
        if tok == "\\" and i != last:
            out[o - 1] = tok
            out[o] = pattern[i + 1]
            i += 2
        else:
            out[o] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # shortest/longest rightmost match = leftmost match on the reversed strings
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand one word (quotes removed, spaces kept) as BuildKit's ProcessWord."""
    return Lex(escape=escape).process_word(word, env)


def expand_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand and split on unquoted whitespace, as BuildKit's ProcessWords."""
    return Lex(escape=escape).process_words(word, env)


# -- ARG scoping ---------------------------------------------------------------------

BUILTIN_PROXY_ARGS = frozenset(
    {
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "FTP_PROXY",
        "ftp_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    }
)

PLATFORM_ARGS = (
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
)


def platform_args(build: str, target: str) -> dict[str, str]:
    """The automatic platform ARGs for ``os/arch[/variant]`` build and target."""
    out: dict[str, str] = {}
    for prefix, plat in (("BUILD", build), ("TARGET", target)):
        parts = plat.split("/")
        out[prefix + "PLATFORM"] = plat
        out[prefix + "OS"] = parts[0]
        out[prefix + "ARCH"] = parts[1] if len(parts) > 1 else ""
        out[prefix + "VARIANT"] = parts[2] if len(parts) > 2 else ""
    return out


class ArgScope:
    """The ARG values one stage sees, following BuildKit's rules.

    - the global scope (ARGs before the first FROM) is used for FROM lines only;
    - in a stage, ``ARG NAME`` without a value takes the build-arg, else the
      global value, else stays unset; ``ARG NAME=default`` takes the build-arg
      if given, else the default expanded in the stage's environment;
    - a stage ARG is visible from its declaration on (``values``);
    - the proxy ARGs are usable without declaration when given as build-args
      and are left out of the image history unless declared (``history_args``);
    - the platform ARGs are predefined in the global scope; in a stage they
      must be declared (``ARG TARGETOS``) like any other global.
    """

    def __init__(
        self,
        build_args: Mapping[str, str],
        global_args: Mapping[str, str] | None = None,
        *,
        platform: Mapping[str, str] | None = None,
    ) -> None:
        self.build_args = dict(build_args)
        self.globals: dict[str, str] = dict(platform or {})
        if global_args:
            self.globals.update(global_args)
        self.values: dict[str, str] = {}
        self.consumed: set[str] = set()
        self._declared: set[str] = set()

    @classmethod
    def for_globals(
        cls, build_args: Mapping[str, str], *, platform: Mapping[str, str] | None = None
    ) -> ArgScope:
        """The scope in which the ARGs before the first FROM are evaluated."""
        scope = cls(build_args, None, platform=platform)
        scope.values = dict(scope.globals)
        return scope

    def declare(self, name: str, default: str | None, env: Mapping[str, str] | None = None) -> None:
        """Process ``ARG name[=default]``; ``default`` is still unexpanded."""
        if default is not None:
            default = expand_word(default, self.environment(env))
        if name in self.build_args:
            value: str | None = self.build_args[name]
            self.consumed.add(name)
        elif default is not None:
            value = default
        elif name in self.globals:
            value = self.globals[name]
        else:
            value = None
        if value is not None:
            self.values[name] = value
        else:
            self.values.pop(name, None)
        self._declared.add(name)

    def declared(self, name: str) -> bool:
        """Whether ``ARG name`` appeared in this scope."""
        return name in self._declared

    def environment(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """Variables for expansion: given proxy build-args, the ARGs, ENV over them."""
        out = {k: v for k, v in self.build_args.items() if k in BUILTIN_PROXY_ARGS}
        out.update(self.values)
        if env:
            out.update(env)
        return out

    def history_args(self) -> dict[str, str]:
        """The ARG values recorded in history (declared ones: proxies only if declared)."""
        return dict(sorted(self.values.items()))


def unused_build_args(build_args: Iterable[str], consumed: Iterable[str]) -> str | None:
    """Docker's warning for build-args that no ARG used, or None."""
    used = set(consumed) | BUILTIN_PROXY_ARGS
    left = sorted(k for k in build_args if k not in used)
    if not left:
        return None
    return f"[Warning] One or more build-args [{' '.join(left)}] were not consumed"
