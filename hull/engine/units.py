"""Sizes, durations and ulimits as Docker's command line reads and prints them.

Parsing follows ``github.com/docker/go-units`` (``RAMInBytes``,
``FromHumanSize``, ``HumanSize``, ``BytesSize``, ``HumanDuration``,
``ParseUlimit``) and Go's ``time.ParseDuration``; the outputs are the same
strings, so tables and messages read as Docker's do. Every parse failure is an
``InvalidArgument`` carrying Docker's message ("invalid size: '12x'").
"""

from __future__ import annotations

import re

from hull.errors import InvalidArgument

KB, MB, GB, TB, PB = 1000, 1000**2, 1000**3, 1000**4, 1000**5
KiB, MiB, GiB, TiB, PiB = 1024, 1024**2, 1024**3, 1024**4, 1024**5

_DECIMAL = {"k": KB, "m": MB, "g": GB, "t": TB, "p": PB}
_BINARY = {"k": KiB, "m": MiB, "g": GiB, "t": TiB, "p": PiB}
_DECIMAL_ABBRS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_ABBRS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")

# A number, an optional space, an optional unit letter, optional "i", optional "b".
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([kmgtp])?i?b?", re.IGNORECASE)

_INT64_MAX = (1 << 63) - 1


def _parse_size(text: str, table: dict[str, int]) -> int:
    m = _SIZE.fullmatch(text)
    if m is None:
        raise InvalidArgument(f"invalid size: '{text}'")
    value = float(m.group(1))
    unit = (m.group(2) or "").lower()
    if unit:
        value *= table[unit]
    if value > _INT64_MAX:
        raise InvalidArgument(f"invalid size: '{text}' (too large)")
    return int(value)


def ram_in_bytes(text: str) -> int:
    """Binary sizes as ``--memory``/``--shm-size`` take them: "512m" = 512 MiB."""
    return _parse_size(text, _BINARY)


def from_human_size(text: str) -> int:
    """Decimal (SI) sizes: "44kB" = 44000."""
    return _parse_size(text, _DECIMAL)


def _scaled(size: float, base: float, abbrs: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(abbrs) - 1:
        size /= base
        i += 1
    return size, abbrs[i]


def human_size_with_precision(size: float, precision: int) -> str:
    """Decimal units with ``precision`` significant digits ("%.*g" as Go prints it)."""
    value, unit = _scaled(float(size), 1000.0, _DECIMAL_ABBRS)
    return f"{value:.{precision}g}{unit}"


def human_size(size: float) -> str:
    """go-units ``HumanSize``: decimal, 4 significant digits ("2.746MB", "796kB")."""
    return human_size_with_precision(size, 4)


def bytes_size(size: float) -> str:
    """go-units ``BytesSize``: binary, 4 significant digits ("44KiB", "17MiB")."""
    value, unit = _scaled(float(size), 1024.0, _BINARY_ABBRS)
    return f"{value:.4g}{unit}"


# -- durations ------------------------------------------------------------------

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_DURATION_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,  # micro sign
    "\u03bcs": MICROSECOND,  # Greek small letter mu
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration``: "1m30s", "1.5h", "-10ms" -> nanoseconds."""
    s = text
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise InvalidArgument(f'time: invalid duration "{text}"')
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None or (not m.group(1) and not m.group(2)):
            raise InvalidArgument(f'time: invalid duration "{text}"')
        unit = m.group(3)
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            raise InvalidArgument(f'time: unknown unit "{unit}" in duration "{text}"')
        whole = int(m.group(1) or "0")
        frac = m.group(2) or ""
        value = whole * scale
        if frac:
            # exact: fractional digits times the unit, truncated as Go does
            value += int(frac) * scale // (10 ** len(frac))
        total += value
        if total > _INT64_MAX:
            raise InvalidArgument(f'time: invalid duration "{text}"')
        pos = m.end()
    return -total if neg else total


def format_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: 90 s -> "1m30s", 1.5 ms -> "1.5ms"."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < SECOND:
        for unit, scale in (("ms", MILLISECOND), ("\u00b5s", MICROSECOND), ("ns", 1)):
            if u >= scale:
                return sign + _frac(u, scale) + unit
    h, rest = divmod(u, HOUR)
    m, rest = divmod(rest, MINUTE)
    out = sign
    if h:
        out += f"{h}h"
    if h or m:
        out += f"{m}m"
    return out + _frac(rest, SECOND) + "s"


def _frac(value: int, scale: int) -> str:
    whole, rest = divmod(value, scale)
    if not rest:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}.{rest:0{digits}d}".rstrip("0")


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration`` ("Up 5 minutes", "Exited (0) 2 hours ago")."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


# -- ulimits --------------------------------------------------------------------

ULIMIT_NAMES = (
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
)


def parse_ulimit(text: str) -> tuple[str, int, int]:
    """``--ulimit name=soft[:hard]`` -> (name, soft, hard); hard defaults to soft."""
    name, sep, values = text.partition("=")
    if not sep:
        raise InvalidArgument(f"invalid ulimit argument: {text}")
    if name not in ULIMIT_NAMES:
        raise InvalidArgument(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise InvalidArgument(
            f"too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
        )
    try:
        soft = int(parts[0])
        hard = int(parts[1]) if len(parts) == 2 else soft
    except ValueError:
        raise InvalidArgument(f"invalid ulimit argument: {text}") from None
    if soft > hard:
        raise InvalidArgument(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return name, soft, hard


__all__ = [
    "GB",
    "HOUR",
    "KB",
    "MB",
    "MINUTE",
    "PB",
    "SECOND",
    "TB",
    "ULIMIT_NAMES",
    "GiB",
    "KiB",
    "MiB",
    "PiB",
    "TiB",
    "bytes_size",
    "format_duration",
    "from_human_size",
    "human_duration",
    "human_size",
    "human_size_with_precision",
    "parse_duration",
    "parse_ulimit",
    "ram_in_bytes",
]
