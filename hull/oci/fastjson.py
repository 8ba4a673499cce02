"""JSON for the hot path, without importing :mod:`json`.

``import json`` pulls in ``re`` and ``enum`` and costs ~8 ms, nearly the whole
start budget of ``hull-runtime``. The C scanner and encoder that :mod:`json`
itself wraps live in ``_json`` and need only a small context object. Errors
are rare, so building a decent message may import :mod:`json` then.
"""

from __future__ import annotations

import _json

# Not typing.TYPE_CHECKING: importing typing costs ~10 ms; mypy honours the name.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_WS = " \t\n\r"


def _constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)
    memo: dict[str, str] = {}


_scan: Callable[[str, int], tuple[Any, int]] = _json.make_scanner(_Context())  # type: ignore[arg-type]


def loads(data: str | bytes) -> Any:
    """Parse one JSON document; raises ValueError naming line and column."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    n = len(text)
    i = 0
    while i < n and text[i] in _WS:
        i += 1
    try:
        obj, end = _scan(text, i)
    except (StopIteration, SystemError, ValueError):
        # The C scanner builds its error from json.decoder, which -S runs
        # may not have imported yet: let json itself describe the problem.
        import json

        return json.loads(text)
    while end < n and text[end] in _WS:
        end += 1
    if end != n:
        raise _error("Extra data", text, end)
    return obj


def _error(msg: str, text: str, pos: int) -> ValueError:
    line = text.count("\n", 0, pos) + 1
    col = pos - text.rfind("\n", 0, pos)
    return ValueError(f"{msg}: line {line} column {col} (char {pos})")


_encode = _json.make_encoder(
    None,
    None,  # type: ignore[arg-type]
    _json.encode_basestring,
    None,
    ":",
    ",",
    False,
    False,
    True,
)


def dumps(obj: Any) -> str:
    """Serialise compactly (no spaces), keys in insertion order."""
    return "".join(_encode(obj, 0))


def dumps_indented(obj: Any, indent: int = 2) -> str:
    """``json.dumps(obj, indent=indent)``, byte for byte (``state`` prints this)."""
    out: list[str] = []
    _pretty(obj, out, " " * indent, "\n")
    return "".join(out)


def _pretty(obj: Any, out: list[str], step: str, nl: str) -> None:
    if isinstance(obj, dict) and obj:
        inner = nl + step
        out.append("{")
        first = True
        for k, v in obj.items():
            out.append(inner if first else "," + inner)
            first = False
            out.append(_json.encode_basestring_ascii(k if isinstance(k, str) else dumps(k)))
            out.append(": ")
            _pretty(v, out, step, inner)
        out.append(nl + "}")
    elif isinstance(obj, list | tuple) and obj:
        inner = nl + step
        out.append("[")
        for i, v in enumerate(obj):
            out.append(inner if i == 0 else "," + inner)
            _pretty(v, out, step, inner)
        out.append(nl + "]")
    elif isinstance(obj, str):
        out.append(_json.encode_basestring_ascii(obj))
    else:
        out.append(dumps(obj))
