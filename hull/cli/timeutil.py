"""Docker's ``--since``/``--until`` values → the Unix timestamps the API takes.

Accepted, as ``timetypes.GetTimestamp``: Go durations relative to now
(``10m``, ``1h30m``, ``1.5h``), RFC 3339 dates and times with or without a
zone (local time without), ``YYYY-MM-DD``, and Unix timestamps
(``1700000000`` or ``1700000000.123456789``), which pass through.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

from hull.errors import InvalidArgument

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
_UNIX = re.compile(r"^-?\d+(\.\d+)?$")


def parse_duration(value: str) -> int:
    """A Go duration (``1h30m``) in nanoseconds; InvalidArgument if it is not one."""
    text = value.lstrip("+-")
    if not text:
        raise InvalidArgument(f"invalid duration {value!r}")
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise InvalidArgument(f"invalid duration {value!r}")
    return int(-total if value.startswith("-") else total)


def get_timestamp(value: str, now_ns: int | None = None) -> str:
    """``value`` as ``SECONDS.NANOSECONDS`` for the API ("" stays "")."""
    if value == "":
        return ""
    now = time.time_ns() if now_ns is None else now_ns
    if _UNIX.match(value):
        return value
    try:
        d = parse_duration(value)
    except InvalidArgument:
        pass
    else:
        t = now - d
        return f"{t // 1_000_000_000}.{t % 1_000_000_000:09d}"
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(
            f"invalid time {value!r}: expected a duration (10m), an RFC 3339 date or a timestamp"
        ) from None
    if dt.tzinfo is None:
        dt = dt.astimezone()  # local time, as docker
    sec = int(dt.timestamp())
    return f"{sec}.{dt.microsecond * 1000:09d}"


def format_nano_local(ns: int) -> str:
    """Go's ``2006-01-02T15:04:05.000000000Z07:00`` in local time (``docker events``)."""
    dt = datetime.fromtimestamp(ns / 1e9).astimezone()
    off = dt.strftime("%z")
    zone = "Z" if off in ("+0000", "") else f"{off[:3]}:{off[3:]}"
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}" + zone


__all__ = ["format_nano_local", "get_timestamp", "parse_duration"]
