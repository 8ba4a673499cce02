"""Typed Dockerfile instructions, built from parser nodes with BuildKit's rules.

Each instruction is a frozen dataclass carrying ``line``, ``end_line`` and the
``original`` text.  Values are kept as written (quotes and ``$VAR`` included)
where BuildKit expands them later, at dispatch, with the stage's ARG/ENV
(``expand.expand_word``): image names, COPY/ADD paths and flags, ENV/LABEL/ARG
pairs, WORKDIR, USER, VOLUME, EXPOSE, STOPSIGNAL, RUN ``--mount`` values.

Flags follow BuildKit's ``BFlags``: each instruction declares its flags; an
unknown one is an error naming it (with a "did you mean" when one is close),
a repeated one too (except ``--mount``, ``--exclude``, ``--device``), a bool
flag takes no value or ``true``/``false``, a string flag needs ``=value``.
ARG and STOPSIGNAL never look at their flags (BuildKit ignores them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from hull.build.parser import DockerfileError, Heredoc, Node, parse_heredoc
from hull.errors import InvalidArgument

__all__ = [
    "AddInstr",
    "ArgInstr",
    "CmdInstr",
    "CopyInstr",
    "EntrypointInstr",
    "EnvInstr",
    "ExposeInstr",
    "FromInstr",
    "HealthcheckInstr",
    "Instruction",
    "LabelInstr",
    "MaintainerInstr",
    "OnbuildInstr",
    "RunInstr",
    "RunMount",
    "ShellInstr",
    "Stage",
    "StopsignalInstr",
    "UserInstr",
    "VolumeInstr",
    "WorkdirInstr",
    "from_nodes",
    "stages",
]

Command = tuple[str, ...] | str  # exec form (JSON) or shell form


@dataclass(frozen=True, kw_only=True)
class Instruction:
    """What every instruction has: where it is and how it was written."""

    line: int
    end_line: int
    original: str

    @property
    def name(self) -> str:
        """The instruction keyword in upper case (``RUN``)."""
        return type(self).__name__.removesuffix("Instr").upper()


@dataclass(frozen=True, kw_only=True)
class FromInstr(Instruction):
    image: str
    alias: str | None = None  # lower-cased, as BuildKit stores stage names
    platform: str | None = None


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
            return _parse_mount(spec, expand)
        except _Err as exc:
            raise InvalidArgument(str(exc)) from None


@dataclass(frozen=True, kw_only=True)
class RunInstr(Instruction):
    cmd: Command
    heredocs: tuple[Heredoc, ...] = ()
    mount_specs: tuple[str, ...] = ()
    mounts: tuple[RunMount, ...] = ()  # parsed unexpanded; see RunMount.parse
    network: str = "default"
    security: str = "sandbox"
    devices: tuple[str, ...] = ()
    flags_used: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CopyInstr(Instruction):
    sources: tuple[str, ...]
    dest: str
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    parents: bool = False
    exclude: tuple[str, ...] = ()
    heredocs: tuple[Heredoc, ...] = ()  # inline sources; content already chomped
    json: bool = False


@dataclass(frozen=True, kw_only=True)
class AddInstr(Instruction):
    sources: tuple[str, ...]
    dest: str
    chown: str = ""
    chmod: str = ""
    link: bool = False
    exclude: tuple[str, ...] = ()
    checksum: str = ""
    keep_git_dir: bool | None = None
    unpack: bool | None = None
    heredocs: tuple[Heredoc, ...] = ()
    json: bool = False


@dataclass(frozen=True, kw_only=True)
class EnvInstr(Instruction):
    pairs: tuple[tuple[str, str], ...]  # unexpanded, quotes kept


@dataclass(frozen=True, kw_only=True)
class LabelInstr(Instruction):
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True, kw_only=True)
class ArgInstr(Instruction):
    pairs: tuple[tuple[str, str | None], ...]  # (name, default or None)


@dataclass(frozen=True, kw_only=True)
class WorkdirInstr(Instruction):
    path: str


@dataclass(frozen=True, kw_only=True)
class UserInstr(Instruction):
    user: str


@dataclass(frozen=True, kw_only=True)
class ExposeInstr(Instruction):
    ports: tuple[str, ...]  # sorted as BuildKit sorts them; expand each with expand_words


@dataclass(frozen=True, kw_only=True)
class VolumeInstr(Instruction):
    paths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class EntrypointInstr(Instruction):
    cmd: Command


@dataclass(frozen=True, kw_only=True)
class CmdInstr(Instruction):
    cmd: Command


@dataclass(frozen=True, kw_only=True)
class StopsignalInstr(Instruction):
    signal: str


@dataclass(frozen=True, kw_only=True)
class HealthcheckInstr(Instruction):
    """``test`` is Docker's: ``["NONE"]``, ``["CMD", ...]`` or ``["CMD-SHELL", s]``.

    Durations are nanoseconds (0: inherit the default), as in the image config.
    """

    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, kw_only=True)
class ShellInstr(Instruction):
    shell: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class OnbuildInstr(Instruction):
    expression: str  # the trigger as written, heredocs appended


@dataclass(frozen=True, kw_only=True)
class MaintainerInstr(Instruction):
    maintainer: str


@dataclass(frozen=True)
class Stage:
    """One build stage: its FROM and the instructions up to the next FROM."""

    index: int
    from_: FromInstr
    instructions: tuple[Instruction, ...]
    global_args: tuple[ArgInstr, ...]  # the ARGs before the first FROM (all stages)

    @property
    def name(self) -> str | None:
        """The ``AS`` name (lower case) or None."""
        return self.from_.alias

    @property
    def base(self) -> str:
        """The base image or stage as written (unexpanded)."""
        return self.from_.image


def stages(instrs: Sequence[Instruction]) -> list[Stage]:
    """Split instructions at each FROM; ARGs before the first FROM are global."""
    globals_: list[ArgInstr] = []
    out: list[tuple[FromInstr, list[Instruction]]] = []
    for ins in instrs:
        if isinstance(ins, FromInstr):
            out.append((ins, []))
        elif not out:
            if not isinstance(ins, ArgInstr):
                raise DockerfileError("no build stage in current context", ins.line)
            globals_.append(ins)
        else:
            out[-1][1].append(ins)
    g = tuple(globals_)
    return [Stage(i, f, tuple(body), g) for i, (f, body) in enumerate(out)]


# -- flags ---------------------------------------------------------------------------


class _Err(Exception):
    pass


class _Flags:
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
                raise _Err(f"arg should start with -- : {a}")
            flag, has_value, value = a.partition("=")
            name = flag[2:]
            kind = self.kinds.get(name)
            if kind is None:
                raise _Err(_suggest(f"unknown flag: {flag}", name, sorted(self.kinds), True))
            if name in self.used and kind != "strings":
                raise _Err(f"duplicate flag specified: {flag}")
            if name not in self.used:
                self.used.append(name)
            if kind == "bool":
                if has_value and value == "":
                    raise _Err(f"missing a value on flag: {flag}")
                if value.lower() not in ("true", "", "false"):
                    raise _Err(f"expecting boolean value for flag {flag}, not: {value}")
                self.values[name] = "false" if value.lower() == "false" else "true"
            elif not has_value:
                raise _Err(f"missing a value on flag: {flag}")
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


def _suggest(msg: str, value: str, options: Sequence[str], case_sensitive: bool) -> str:
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
    raise _Err(f"invalid value for {key}: {value}")


def _ram_bytes(value: str, key: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?", value, re.IGNORECASE)
    if m is None:
        raise _Err(f"invalid value for {key}: {value}")
    return int(float(m.group(1)) * 1024 ** " kmgtp".index(m.group(2).lower() or " "))


def _csv_fields(spec: str) -> list[str]:
    import csv

    try:
        rows = list(csv.reader([spec], strict=True))
    except csv.Error as exc:
        raise _Err(f"failed to parse csv mounts: {exc}") from None
    return rows[0] if rows else []


def _parse_mount(spec: str, expand: Callable[[str], str]) -> RunMount:
    f: dict[str, object] = {"type": "bind"}
    ro_auto = True
    for fld in _csv_fields(spec):
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
                raise _Err(f"unexpected key '{key}' for mount type '{mtype}'")
            else:
                raise _Err(f"invalid field '{fld}' must be a key=value pair")
            continue
        value = expand(value)
        if key == "type":
            if value.lower() not in _MOUNT_TYPES:
                raise _Err(_suggest(f'unsupported mount type "{value}"', value, _MOUNT_TYPES, True))
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
                raise _Err(f"unexpected key '{key}' for mount type '{mtype}'")
            f["required"] = _go_bool(value, key)
        elif key == "size":
            if mtype != "tmpfs":
                raise _Err(f"unexpected key '{key}' for mount type '{mtype}'")
            f["size"] = _ram_bytes(value, key)
        elif key == "sharing":
            if value.lower() not in _SHARING:
                raise _Err(_suggest(f'unsupported sharing value "{value}"', value, _SHARING, True))
            f["sharing"] = value.lower()
        elif key in ("mode", "uid", "gid"):
            try:
                num = int(value, 8 if key == "mode" else 10)
                if not 0 <= num < 2**32 or not value.isdigit():
                    raise ValueError(value)
            except ValueError:
                raise _Err(f"invalid value {value} for {key}") from None
            f[key] = num
        else:
            raise _Err(_suggest(f"unexpected key '{key}' in '{fld}'", key, _MOUNT_KEYS, True))
    mtype = str(f["type"])
    if mtype not in ("secret", "ssh", "cache"):
        for k in ("mode", "uid", "gid"):
            if k in f:
                raise _Err(f'{k} not allowed for "{mtype}" type mounts')
    if ro_auto:
        f["readonly"] = mtype not in ("cache", "tmpfs")
    if mtype == "secret":
        if f.get("from_"):
            raise _Err("secret mount should not have a from")
        if f.get("sharing"):
            raise _Err("secret mount should not define sharing")
        if not (f.get("source") or f.get("target") or f.get("id")):
            raise _Err("invalid secret mount. one of source, target required")
        if f.get("source") and f.get("id"):
            raise _Err("both source and id can't be set")
    if f.get("sharing") and mtype != "cache":
        raise _Err(f"invalid cache sharing set for {mtype} mount")
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


# -- nodes to instructions ------------------------------------------------------------

_ALL = (
    "add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck",
    "label", "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir",
)  # fmt: skip
_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*")


def from_nodes(
    nodes: Sequence[Node], *, escape: str = "\\", filename: str = ""
) -> list[Instruction]:
    """Typed instructions for parser nodes; errors name the node's line."""
    out: list[Instruction] = []
    for node in nodes:
        try:
            out.append(_convert(node))
        except _Err as exc:
            raise DockerfileError(
                str(exc), node.start_line, end_line=node.end_line, filename=filename
            ) from None
    return out


def _one_arg(node: Node, what: str) -> str:
    if len(node.args) != 1:
        raise _Err(f"{what} requires exactly one argument")
    return node.args[0]


def _kvps(node: Node, what: str) -> tuple[tuple[str, str], ...]:
    a = node.args
    if not a:
        raise _Err(f"{what} requires at least one argument")
    if len(a) % 3:
        raise _Err(f"Bad input to {what}, too many arguments")
    out = []
    for i in range(0, len(a), 3):
        if not a[i]:
            raise _Err(f"{what} names can not be blank")
        out.append((a[i], a[i + 1]))
    return tuple(out)


def _command(node: Node, empty_as_nil: bool = False) -> Command:
    if node.json:
        return tuple(node.args)
    return " ".join(node.args)


def _go_q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sources(node: Node, what: str) -> tuple[tuple[str, ...], str, tuple[Heredoc, ...]]:
    if len(node.args) < 2:
        raise _Err(
            f"{what} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    *srcs, dest = node.args
    if parse_heredoc(dest) is not None:
        raise _Err(f"{what} cannot accept a heredoc as a destination")
    by_name = {h.name: h for h in node.heredocs}
    paths: list[str] = []
    docs: list[Heredoc] = []
    for src in srcs:
        h = parse_heredoc(src)
        if h is None:
            paths.append(src)
            continue
        content = by_name[h.name].content if h.name in by_name else ""
        if h.chomp:
            content = re.sub(r"(?m)^\t+", "", content)
        docs.append(Heredoc(h.name, content, h.expand, h.chomp, h.file_descriptor))
    return tuple(paths), dest, tuple(docs)


def _interval(fl: _Flags, name: str) -> int:
    s = fl.values[name]
    if not s:
        return 0
    try:
        d = go_duration(s)
    except ValueError as exc:
        raise _Err(str(exc)) from None
    if d == 0:
        return 0
    if d < 10**6:
        raise _Err(f'Interval "{name}" cannot be less than 1ms')
    return d


class _At(TypedDict):
    line: int
    end_line: int
    original: str


def _convert(node: Node) -> Instruction:
    name = node.name
    at = _At(line=node.start_line, end_line=node.end_line, original=node.original)
    fl = _Flags(node.flags)
    if name == "from":
        a = node.args
        alias = None
        if len(a) == 3 and a[1].lower() == "as":
            alias = a[2].lower()
            if not _STAGE_NAME.fullmatch(alias):
                raise _Err(
                    f"invalid name for build stage: {_go_q(a[2])}, "
                    "name can't start with a number or contain symbols"
                )
        elif len(a) != 1:
            raise _Err("FROM requires either one or three arguments")
        fl.add("platform", "string")
        fl.parse()
        return FromInstr(**at, image=a[0], alias=alias, platform=fl.values["platform"] or None)
    if name == "run":
        fl.add("mount", "strings")
        fl.add("network", "string", "default")
        fl.add("security", "string", "sandbox")
        fl.add("device", "strings")
        fl.parse()
        specs = tuple(fl.lists["mount"])
        mounts = []
        for spec in specs:
            if "$" in spec:
                _check_mount_from(spec)
                continue
            mounts.append(_parse_mount(spec, str))
        if fl.values["network"] not in ("default", "none", "host"):
            raise _Err(f"invalid network mode {_go_q(fl.values['network'])}")
        if fl.values["security"] not in ("sandbox", "insecure"):
            raise _Err(f"security {_go_q(fl.values['security'])} is not valid")
        return RunInstr(
            **at, cmd=_command(node), heredocs=node.heredocs, mount_specs=specs,
            mounts=tuple(mounts), network=fl.values["network"],
            security=fl.values["security"], devices=tuple(fl.lists["device"]),
            flags_used=tuple(fl.used),
        )  # fmt: skip
    if name in ("copy", "add"):
        if len(node.args) < 2:
            _sources(node, name.upper())
        for f in ("chown", "chmod"):
            fl.add(f, "string")
        fl.add("link", "bool", "false")
        fl.add("exclude", "strings")
        if name == "copy":
            fl.add("from", "string")
            fl.add("parents", "bool", "false")
        else:
            fl.add("keep-git-dir", "bool", "false")
            fl.add("checksum", "string")
            fl.add("unpack", "bool", "false")
        fl.parse()
        srcs, dest, docs = _sources(node, name.upper())
        chown, chmod, link = fl.values["chown"], fl.values["chmod"], fl.true("link")
        exclude = tuple(fl.lists["exclude"])
        if name == "copy":
            return CopyInstr(
                **at, sources=srcs, dest=dest, chown=chown, chmod=chmod, link=link,
                exclude=exclude, heredocs=docs, json=node.json, from_=fl.values["from"],
                parents=fl.true("parents"),
            )  # fmt: skip
        return AddInstr(
            **at, sources=srcs, dest=dest, chown=chown, chmod=chmod, link=link,
            exclude=exclude, heredocs=docs, json=node.json, checksum=fl.values["checksum"],
            keep_git_dir=fl.opt_bool("keep-git-dir"), unpack=fl.opt_bool("unpack"),
        )  # fmt: skip
    if name == "arg":
        if not node.args:
            raise _Err("ARG requires at least one argument")
        pairs: list[tuple[str, str | None]] = []
        for word in node.args:
            if "=" in word:
                k, v = word.split("=", 1)
                if not k:
                    raise _Err("ARG names can not be blank")
                pairs.append((k, v))
            else:
                pairs.append((word, None))
        return ArgInstr(**at, pairs=tuple(pairs))
    if name == "stopsignal":
        return StopsignalInstr(**at, signal=_one_arg(node, "STOPSIGNAL"))
    if name == "healthcheck":
        return _healthcheck(node, fl, at)
    if name == "maintainer":
        m = _one_arg(node, "MAINTAINER")
        fl.parse()
        return MaintainerInstr(**at, maintainer=m)
    if name == "onbuild":
        if node.sub is None:
            raise _Err("ONBUILD requires at least one argument")
        fl.parse()
        trigger = node.sub.cmd.strip().upper()
        if trigger == "ONBUILD":
            raise _Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise _Err(f"{trigger} isn't allowed as an ONBUILD trigger")
        expr = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original, count=1)
        for h in node.heredocs:
            expr += "\n" + h.content + h.name
        return OnbuildInstr(**at, expression=expr)
    if name in ("workdir", "user"):
        v = _one_arg(node, name.upper())
        fl.parse()
        return WorkdirInstr(**at, path=v) if name == "workdir" else UserInstr(**at, user=v)
    if name in ("env", "label"):
        fl.parse()
        kv = _kvps(node, name.upper())
        return EnvInstr(**at, pairs=kv) if name == "env" else LabelInstr(**at, pairs=kv)
    if name == "expose":
        if not node.args:
            raise _Err("EXPOSE requires at least one argument")
        fl.parse()
        return ExposeInstr(**at, ports=tuple(sorted(node.args)))
    if name == "volume":
        if not node.args:
            raise _Err("VOLUME requires at least one argument")
        fl.parse()
        vols = tuple(v.strip() for v in node.args)
        if "" in vols:
            raise _Err("VOLUME specified can not be an empty string")
        return VolumeInstr(**at, paths=vols)
    if name in ("cmd", "entrypoint"):
        fl.parse()
        cls = CmdInstr if name == "cmd" else EntrypointInstr
        return cls(**at, cmd=_command(node))
    if name == "shell":
        fl.parse()
        if not node.args:
            raise _Err("SHELL requires at least one argument")
        if not node.json:
            raise _Err("SHELL requires the arguments to be in JSON form")
        return ShellInstr(**at, shell=tuple(node.args))
    raise _Err(
        _suggest(f"unknown instruction: {node.cmd}", node.cmd, [n.upper() for n in _ALL], False)
    )


def _check_mount_from(spec: str) -> None:
    for fld in _csv_fields(spec):
        key, _, value = fld.partition("=")
        if key.lower() == "from":
            i = value.find("$")
            if i != -1 and i != len(value) - 1:
                raise _Err(
                    f"'{key.lower()}' doesn't support variable expansion, "
                    "define alias stage instead"
                )


def _healthcheck(node: Node, fl: _Flags, at: _At) -> HealthcheckInstr:
    if not node.args:
        raise _Err("HEALTHCHECK requires at least one argument")
    typ = node.args[0].upper()
    args = node.args[1:]
    if typ == "NONE":
        if args:
            raise _Err("HEALTHCHECK NONE takes no arguments")
        return HealthcheckInstr(**at, test=("NONE",))
    for f in ("interval", "timeout", "start-period", "start-interval", "retries"):
        fl.add(f, "string")
    fl.parse()
    if typ != "CMD":
        raise _Err(f"Unknown type {_go_q(typ)} in HEALTHCHECK (try CMD)")
    cmd = list(args) if node.json else ([" ".join(args)] if args else [])
    if not cmd:
        raise _Err("Missing command after HEALTHCHECK CMD")
    test = ("CMD" if node.json else "CMD-SHELL", *cmd)
    retries = 0
    if fl.values["retries"]:
        try:
            retries = int(fl.values["retries"], 10)
        except ValueError:
            raise _Err(
                f"strconv.ParseInt: parsing {_go_q(fl.values['retries'])}: invalid syntax"
            ) from None
        if retries < 0:
            raise _Err(f"--retries cannot be negative ({retries})")
    return HealthcheckInstr(
        **at, test=test, interval=_interval(fl, "interval"), timeout=_interval(fl, "timeout"),
        start_period=_interval(fl, "start-period"),
        start_interval=_interval(fl, "start-interval"), retries=retries,
    )  # fmt: skip
