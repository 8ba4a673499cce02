"""Instruction flags of a Dockerfile (`--from`, `--chown`, `--mount`...), read as BuildKit does.

``Flags`` reads an instruction's ``--name=value`` flags, refusing unknown
ones with BuildKit's "did you mean" suggestions; ``parse_mount`` is the
grammar of ``RUN --mount`` (bind, cache, tmpfs, secret, ssh) into a
``RunMount``; ``go_duration`` reads Go durations (HEALTHCHECK ``--interval``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hull.errors import InvalidArgument


@dataclass(frozen=True, kw_only=True)
class RunMount:
    """One ``RUN --mount=...`` (BuildKit's instructions.Mount)."""

    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    id: str = ""
    sharing: str = ""
    readonly: bool = True
    required: bool = False
    size: int = 0
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    env: str | None = None

    @classmethod
    def parse(cls, spec: str, expand: Callable[[str], str] = str) -> RunMount:
        """Parse a ``--mount`` value; ``expand`` expands each value (ARG/ENV)."""
        try:
            return parse_mount(spec, expand)
        except FlagError as exc:
            raise InvalidArgument(str(exc)) from None


# -- flags ---------------------------------------------------------------------------


class FlagError(Exception):
    pass


class Flags:
    """BuildKit's BFlags: declared flags, then one strict pass over the args."""

    def __init__(self, args: Sequence[str]) -> None:
        self.args = args
        self.kinds: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self.lists: dict[str, list[str]] = {}
        self.used: list[str] = []

    def add(self, name: str, kind: str, default: str = "") -> None:
        self.kinds[name] = kind
        self.values[name] = default
        self.lists[name] = []

    def parse(self) -> None:
        for a in self.args:
            if a == "--":
                return
            if not a.startswith("--"):
                raise FlagError(f"arg should start with -- : {a}")
            flag, has_value, value = a.partition("=")
            name = flag[2:]
            kind = self.kinds.get(name)
            if kind is None:
                raise FlagError(suggest(f"unknown flag: {flag}", name, sorted(self.kinds), True))
            if name in self.used and kind != "strings":
                raise FlagError(f"duplicate flag specified: {flag}")
            if name not in self.used:
                self.used.append(name)
            if kind == "bool":
                if has_value and value == "":
                    raise FlagError(f"missing a value on flag: {flag}")
                if value.lower() not in ("true", "", "false"):
                    raise FlagError(f"expecting boolean value for flag {flag}, not: {value}")
                self.values[name] = "false" if value.lower() == "false" else "true"
            elif not has_value:
                raise FlagError(f"missing a value on flag: {flag}")
            elif kind == "string":
                self.values[name] = value
            else:
                self.lists[name].append(value)

    def true(self, name: str) -> bool:
        return self.values[name] == "true"

    def opt_bool(self, name: str) -> bool | None:
        return self.true(name) if name in self.used else None


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(msg: str, value: str, options: Sequence[str], case_sensitive: bool) -> str:
    """BuildKit's suggest.WrapError: "... (did you mean X?)" within distance 2."""
    val = value if case_sensitive else value.lower()
    match, best = "", 3
    for opt in options:
        o = opt if case_sensitive else opt.lower()
        if o == val:
            return msg
        d = _levenshtein(val, o)
        if d < best:
            best, match = d, o
    if not match:
        return msg
    if not case_sensitive:
        if value == value.lower():
            match = match.lower()
        elif value == value.upper():
            match = match.upper()
    return f"{msg} (did you mean {match}?)"


# -- RUN --mount ---------------------------------------------------------------------

_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING = ("shared", "private", "locked")
_MOUNT_KEYS = (
    "type", "from", "source", "target", "readonly", "id", "sharing", "required", "size",
    "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env",
)  # fmt: skip


def _go_bool(value: str, key: str) -> bool:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise FlagError(f"invalid value for {key}: {value}")


def _ram_bytes(value: str, key: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?", value, re.IGNORECASE)
    if m is None:
        raise FlagError(f"invalid value for {key}: {value}")
    return int(float(m.group(1)) * 1024 ** " kmgtp".index(m.group(2).lower() or " "))


def csv_fields(spec: str) -> list[str]:
    import csv

    try:
        rows = list(csv.reader([spec], strict=True))
    except csv.Error as exc:
        raise FlagError(f"failed to parse csv mounts: {exc}") from None
    return rows[0] if rows else []


def parse_mount(spec: str, expand: Callable[[str], str]) -> RunMount:
    f: dict[str, object] = {"type": "bind"}
    ro_auto = True
    for fld in csv_fields(spec):
        key, has_value, value = fld.partition("=")
        key = key.lower()
        mtype = str(f["type"])
        if not has_value:
            if key in ("readonly", "ro"):
                f["readonly"], ro_auto = True, False
            elif key in ("readwrite", "rw"):
                f["readonly"], ro_auto = False, False
            elif key == "required" and mtype in ("secret", "ssh"):
                f["required"] = True
            elif key == "required":
                raise FlagError(f"unexpected key '{key}' for mount type '{mtype}'")
            else:
                raise FlagError(f"invalid field '{fld}' must be a key=value pair")
            continue
        value = expand(value)
        if key == "type":
            if value.lower() not in _MOUNT_TYPES:
                raise FlagError(
                    suggest(f'unsupported mount type "{value}"', value, _MOUNT_TYPES, True)
                )
            f["type"] = value.lower()
        elif key in ("from", "source", "src", "target", "dst", "destination", "id", "env"):
            dest = {"src": "source", "dst": "target", "destination": "target"}.get(key, key)
            f[{"from": "from_"}.get(dest, dest)] = value
        elif key in ("readonly", "ro"):
            f["readonly"], ro_auto = _go_bool(value, key), False
        elif key in ("readwrite", "rw"):
            f["readonly"], ro_auto = not _go_bool(value, key), False
        elif key == "required":
            if mtype not in ("secret", "ssh"):
                raise FlagError(f"unexpected key '{key}' for mount type '{mtype}'")
            f["required"] = _go_bool(value, key)
        elif key == "size":
            if mtype != "tmpfs":
                raise FlagError(f"unexpected key '{key}' for mount type '{mtype}'")
            f["size"] = _ram_bytes(value, key)
        elif key == "sharing":
            if value.lower() not in _SHARING:
                raise FlagError(
                    suggest(f'unsupported sharing value "{value}"', value, _SHARING, True)
                )
            f["sharing"] = value.lower()
        elif key in ("mode", "uid", "gid"):
            try:
                num = int(value, 8 if key == "mode" else 10)
                if not 0 <= num < 2**32 or not value.isdigit():
                    raise ValueError(value)
            except ValueError:
                raise FlagError(f"invalid value {value} for {key}") from None
            f[key] = num
        else:
            raise FlagError(suggest(f"unexpected key '{key}' in '{fld}'", key, _MOUNT_KEYS, True))
    mtype = str(f["type"])
    if mtype not in ("secret", "ssh", "cache"):
        for k in ("mode", "uid", "gid"):
            if k in f:
                raise FlagError(f'{k} not allowed for "{mtype}" type mounts')
    if ro_auto:
        f["readonly"] = mtype not in ("cache", "tmpfs")
    if mtype == "secret":
        if f.get("from_"):
            raise FlagError("secret mount should not have a from")
        if f.get("sharing"):
            raise FlagError("secret mount should not define sharing")
        if not (f.get("source") or f.get("target") or f.get("id")):
            raise FlagError("invalid secret mount. one of source, target required")
        if f.get("source") and f.get("id"):
            raise FlagError("both source and id can't be set")
    if f.get("sharing") and mtype != "cache":
        raise FlagError(f"invalid cache sharing set for {mtype} mount")
    return RunMount(**f)  # type: ignore[arg-type]  # values typed by key above


# -- durations -----------------------------------------------------------------------

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 10**6, "s": 10**9}
_UNITS.update({"m": 60 * 10**9, "h": 3600 * 10**9})


def go_duration(s: str) -> int:
    """Go's time.ParseDuration, in nanoseconds."""
    orig, neg = s, False
    if s[:1] in "+-" and s:
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{orig}"')
    total = 0.0
    for m in re.finditer(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)?", s):
        if not m.group(0):
            continue
        if not m.group(1) or m.group(1) == ".":
            raise ValueError(f'time: invalid duration "{orig}"')
        if m.group(2) is None:
            raise ValueError(f'time: missing unit in duration "{orig}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
    if not re.fullmatch(r"((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+", s):
        raise ValueError(f'time: invalid duration "{orig}"')
    return -int(total) if neg else int(total)
