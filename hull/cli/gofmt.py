"""Values and functions of the ``--format`` templates, printed as Go's ``fmt`` does.

``go_str`` is ``%v``; ``go_printf`` is ``Sprintf`` for the verbs templates
use; ``FUNCS`` are Docker's template functions plus Go's builtins.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any


class TemplateError(Exception):
    """A template that does not parse, or fails on this data."""

    def __init__(self, message: str, *, parse: bool = False) -> None:
        super().__init__(message)
        self.parse = parse


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE: Any = _NoValue()

# ---------------------------------------------------------------- printing


def _go_float(f: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form below 1e-4 or from 1e6."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    from decimal import Decimal

    t = Decimal(repr(abs(f))).normalize().as_tuple()
    digits = "".join(map(str, t.digits))
    assert isinstance(t.exponent, int)
    exp = len(digits) + t.exponent - 1
    sign = "-" if f < 0 else ""
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if exp >= 0:
        fp = digits[exp + 1 :]
        return sign + digits[: exp + 1].ljust(exp + 1, "0") + ("." + fp if fp else "")
    return sign + "0." + "0" * (-exp - 1) + digits


def go_str(v: Any) -> str:
    """``v`` as Go's ``fmt`` prints it with ``%v``."""
    if v is NO_VALUE:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{k}:{go_str(v[k])}" for k in sorted(v, key=str)) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    return str(v)


def truthy(v: Any) -> bool:
    """Go template truth: false, 0, nil, empty string/list/map are false."""
    if v is NO_VALUE or v is None:
        return False
    if isinstance(v, bool | int | float | str | list | tuple | dict):
        return bool(v)
    if isinstance(v, Mapping):
        return len(v) > 0
    return True


def _json(v: Any) -> str:
    return json.dumps(None if v is NO_VALUE else v, ensure_ascii=False, separators=(",", ":"))


_PRINTF_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def go_printf(fmt: str, *args: Any) -> str:
    """Go's ``Sprintf`` for the verbs templates use: %s %v %d %q %t %f %x %%."""
    out: list[str] = []
    pos = 0
    ai = 0
    for m in _PRINTF_VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if ai >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = args[ai]
        ai += 1
        if verb in ("s", "v"):
            s = go_str(a)
            if prec is not None:
                s = s[: int(prec)]
        elif verb == "q":
            s = json.dumps(go_str(a), ensure_ascii=False)
        elif verb == "t":
            s = go_str(bool(a))
        elif verb in ("d", "x", "X", "o", "b") and isinstance(a, int):
            s = format(a, {"d": "d", "x": "x", "X": "X", "o": "o", "b": "b"}[verb])
        elif verb in ("f", "F", "e", "g") and isinstance(a, int | float):
            s = format(float(a), f".{prec or 6}{verb.lower()}")
        else:
            s = f"%!{verb}({type(a).__name__}={go_str(a)})"
        if width and width != "*":
            w = int(width)
            s = s.ljust(w) if "-" in flags else s.rjust(w, "0" if "0" in flags else " ")
        out.append(s)
    out.append(fmt[pos:])
    if ai < len(args):
        out.append("%!(EXTRA " + ", ".join(go_str(a) for a in args[ai:]) + ")")
    return "".join(out)


def _sprint(*args: Any) -> str:
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_str(a)
    return out


def _index(coll: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(coll, Mapping):
            coll = coll.get(k, NO_VALUE)
        elif isinstance(coll, list | tuple | str):
            try:
                coll = coll[int(k)]
            except (IndexError, ValueError, TypeError):
                raise TemplateError(f"error calling index: index out of range: {k}") from None
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(coll)}")
    return coll


def _truncate(s: Any, n: int) -> str:
    text = go_str(s)
    return text[:n] if len(text) > n else text


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def f(a: Any, *bs: Any) -> bool:
        try:
            return any(op(a, b) for b in bs) if op is _eq else all(op(a, b) for b in bs)
        except TypeError:
            raise TemplateError("incompatible types for comparison") from None

    return f


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _and(*args: Any) -> Any:
    for a in args:
        if not truthy(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truthy(a):
            return a
    return args[-1]


FUNCS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "join": lambda lst, sep: sep.join(go_str(x) for x in (lst or [])),
    "split": lambda s, sep: go_str(s).split(sep),
    "upper": lambda s: go_str(s).upper(),
    "lower": lambda s: go_str(s).lower(),
    "title": lambda s: go_str(s).title(),
    "pad": lambda s, left, right: " " * left + go_str(s) + " " * right,
    "truncate": _truncate,
    "print": _sprint,
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "printf": lambda fmt, *a: go_printf(fmt, *a),
    "index": _index,
    "len": lambda v: len(v),
    "eq": _cmp(_eq),
    "ne": _cmp(lambda a, b: a != b),
    "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b),
    "ge": _cmp(lambda a, b: a >= b),
    "and": _and,
    "or": _or,
    "not": lambda a: not truthy(a),
}
