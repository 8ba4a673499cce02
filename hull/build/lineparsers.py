"""How a Dockerfile line becomes an instruction's arguments, as BuildKit's line parsers.

After the instruction word, ``--flags`` are split off up to the first word
that does not start with ``--`` (:func:`split_command`); the rest goes to the
instruction's parser in :data:`LINE_PARSERS`: a JSON array or a shell string
(RUN, CMD, ENTRYPOINT, SHELL), the same for a list of paths (ADD, COPY,
VOLUME), key=value pairs (ENV, LABEL, ARG), whitespace words (FROM, EXPOSE),
one string (USER, WORKDIR...) or HEALTHCHECK's own form. Each returns the
arguments and whether they came from JSON. Whitespace is Go's
(``unicode.IsSpace``), since BuildKit trims with it.
"""

from __future__ import annotations

import json
import re

GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
GO_SPACE += "\u2028\u2029\u202f\u205f\u3000"
RE_WS = re.compile(r"[\t\v\f\r ]+")


class LineError(Exception):
    """A line a parser refuses; the caller adds the Dockerfile position."""


def go_trim(s: str) -> str:
    """``strings.TrimSpace``."""
    return s.strip(GO_SPACE)


def go_ltrim(s: str) -> str:
    """``strings.TrimLeftFunc(s, unicode.IsSpace)``."""
    return s.lstrip(GO_SPACE)


def split_command(line: str, escape: str) -> tuple[str, list[str], str]:
    parts = RE_WS.split(go_trim(line), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    rest, flags = _extract_flags(parts[1], escape)
    return parts[0], flags, go_trim(rest)


def _extract_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """Leading ``--word`` items; quotes group, the escape escapes (BuildKit rules)."""
    words: list[str] = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos] in GO_SPACE:
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
            if ch in GO_SPACE:
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
            if ch in GO_SPACE:
                pos += 1
                continue
            in_word = True
        if not quote:
            if ch in GO_SPACE:
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
    rest = go_ltrim(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_no_constant, parse_float=_go_float)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise LineError("when using JSON array syntax, arrays must be comprised of strings only")
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
    return tuple(RE_WS.split(rest)), False


def _string(rest: str, escape: str) -> _Parsed:
    return ((rest,) if rest else ()), False


def _name_or_name_val(rest: str, escape: str) -> _Parsed:
    return tuple(_parse_words(rest, escape)), False


def _name_val(rest: str, escape: str, key: str) -> _Parsed:
    words = _parse_words(rest, escape)
    if not words:
        return (), False
    if "=" not in words[0]:
        parts = RE_WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise LineError(f"{key} must have two arguments")
        return (parts[0], parts[1], ""), False
    out: list[str] = []
    for w in words:
        if "=" not in w:
            raise LineError(
                f"Syntax error - can't find = in {_go_q(w)}. Must be of the form: name=value"
            )
        k, v = w.split("=", 1)
        out += [k, v, "="]
    return tuple(out), False


def _go_q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _health(rest: str, escape: str) -> _Parsed:
    sep = 0
    while sep < len(rest) and rest[sep] not in GO_SPACE:
        sep += 1
    if sep == 0:
        return (), False
    nxt = sep
    while nxt < len(rest) and rest[nxt] in GO_SPACE:
        nxt += 1
    cmd, is_json = _maybe_json(rest[nxt:], escape)
    return (rest[:sep], *cmd), is_json


LINE_PARSERS = {
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


__all__ = ["GO_SPACE", "LINE_PARSERS", "RE_WS", "LineError", "go_ltrim", "go_trim", "split_command"]
