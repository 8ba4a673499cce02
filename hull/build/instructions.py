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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from hull.build.flags import (
    FlagError,
    Flags,
    RunMount,
    csv_fields,
    go_duration,
    parse_mount,
    suggest,
)
from hull.build.parser import DockerfileError, Heredoc, Node, parse_heredoc

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
        except FlagError as exc:
            raise DockerfileError(
                str(exc), node.start_line, end_line=node.end_line, filename=filename
            ) from None
    return out


def _one_arg(node: Node, what: str) -> str:
    if len(node.args) != 1:
        raise FlagError(f"{what} requires exactly one argument")
    return node.args[0]


def _kvps(node: Node, what: str) -> tuple[tuple[str, str], ...]:
    a = node.args
    if not a:
        raise FlagError(f"{what} requires at least one argument")
    if len(a) % 3:
        raise FlagError(f"Bad input to {what}, too many arguments")
    out = []
    for i in range(0, len(a), 3):
        if not a[i]:
            raise FlagError(f"{what} names can not be blank")
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
        raise FlagError(
            f"{what} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    *srcs, dest = node.args
    if parse_heredoc(dest) is not None:
        raise FlagError(f"{what} cannot accept a heredoc as a destination")
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


def _interval(fl: Flags, name: str) -> int:
    s = fl.values[name]
    if not s:
        return 0
    try:
        d = go_duration(s)
    except ValueError as exc:
        raise FlagError(str(exc)) from None
    if d == 0:
        return 0
    if d < 10**6:
        raise FlagError(f'Interval "{name}" cannot be less than 1ms')
    return d


class _At(TypedDict):
    line: int
    end_line: int
    original: str


def _convert(node: Node) -> Instruction:
    name = node.name
    at = _At(line=node.start_line, end_line=node.end_line, original=node.original)
    fl = Flags(node.flags)
    if name == "from":
        a = node.args
        alias = None
        if len(a) == 3 and a[1].lower() == "as":
            alias = a[2].lower()
            if not _STAGE_NAME.fullmatch(alias):
                raise FlagError(
                    f"invalid name for build stage: {_go_q(a[2])}, "
                    "name can't start with a number or contain symbols"
                )
        elif len(a) != 1:
            raise FlagError("FROM requires either one or three arguments")
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
            mounts.append(parse_mount(spec, str))
        if fl.values["network"] not in ("default", "none", "host"):
            raise FlagError(f"invalid network mode {_go_q(fl.values['network'])}")
        if fl.values["security"] not in ("sandbox", "insecure"):
            raise FlagError(f"security {_go_q(fl.values['security'])} is not valid")
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
            raise FlagError("ARG requires at least one argument")
        pairs: list[tuple[str, str | None]] = []
        for word in node.args:
            if "=" in word:
                k, v = word.split("=", 1)
                if not k:
                    raise FlagError("ARG names can not be blank")
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
            raise FlagError("ONBUILD requires at least one argument")
        fl.parse()
        trigger = node.sub.cmd.strip().upper()
        if trigger == "ONBUILD":
            raise FlagError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise FlagError(f"{trigger} isn't allowed as an ONBUILD trigger")
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
            raise FlagError("EXPOSE requires at least one argument")
        fl.parse()
        return ExposeInstr(**at, ports=tuple(sorted(node.args)))
    if name == "volume":
        if not node.args:
            raise FlagError("VOLUME requires at least one argument")
        fl.parse()
        vols = tuple(v.strip() for v in node.args)
        if "" in vols:
            raise FlagError("VOLUME specified can not be an empty string")
        return VolumeInstr(**at, paths=vols)
    if name in ("cmd", "entrypoint"):
        fl.parse()
        cls = CmdInstr if name == "cmd" else EntrypointInstr
        return cls(**at, cmd=_command(node))
    if name == "shell":
        fl.parse()
        if not node.args:
            raise FlagError("SHELL requires at least one argument")
        if not node.json:
            raise FlagError("SHELL requires the arguments to be in JSON form")
        return ShellInstr(**at, shell=tuple(node.args))
    raise FlagError(
        suggest(f"unknown instruction: {node.cmd}", node.cmd, [n.upper() for n in _ALL], False)
    )


def _check_mount_from(spec: str) -> None:
    for fld in csv_fields(spec):
        key, _, value = fld.partition("=")
        if key.lower() == "from":
            i = value.find("$")
            if i != -1 and i != len(value) - 1:
                raise FlagError(
                    f"'{key.lower()}' doesn't support variable expansion, "
                    "define alias stage instead"
                )


def _healthcheck(node: Node, fl: Flags, at: _At) -> HealthcheckInstr:
    if not node.args:
        raise FlagError("HEALTHCHECK requires at least one argument")
    typ = node.args[0].upper()
    args = node.args[1:]
    if typ == "NONE":
        if args:
            raise FlagError("HEALTHCHECK NONE takes no arguments")
        return HealthcheckInstr(**at, test=("NONE",))
    for f in ("interval", "timeout", "start-period", "start-interval", "retries"):
        fl.add(f, "string")
    fl.parse()
    if typ != "CMD":
        raise FlagError(f"Unknown type {_go_q(typ)} in HEALTHCHECK (try CMD)")
    cmd = list(args) if node.json else ([" ".join(args)] if args else [])
    if not cmd:
        raise FlagError("Missing command after HEALTHCHECK CMD")
    test = ("CMD" if node.json else "CMD-SHELL", *cmd)
    retries = 0
    if fl.values["retries"]:
        try:
            retries = int(fl.values["retries"], 10)
        except ValueError:
            raise FlagError(
                f"strconv.ParseInt: parsing {_go_q(fl.values['retries'])}: invalid syntax"
            ) from None
        if retries < 0:
            raise FlagError(f"--retries cannot be negative ({retries})")
    return HealthcheckInstr(
        **at, test=test, interval=_interval(fl, "interval"), timeout=_interval(fl, "timeout"),
        start_period=_interval(fl, "start-period"),
        start_interval=_interval(fl, "start-interval"), retries=retries,
    )  # fmt: skip
