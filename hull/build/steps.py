"""Planning each instruction of a stage into a ``Step`` (keys, config changes, file work).

Expansion follows BuildKit (``expand.py``): ENV, LABEL, ARG, WORKDIR, USER,
EXPOSE, VOLUME, STOPSIGNAL and COPY/ADD are expanded with the stage's ARGs
and ENV; RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD are not (the
container's shell does it). The ARGs an expansion read go into the step's
inputs, so ``--explain`` can name them. COPY and ADD live in ``copystep``.
"""

from __future__ import annotations

import dataclasses
import posixpath
from typing import TYPE_CHECKING, Any

from hull.build import instructions as ins_
from hull.build.copystep import plan_copy
from hull.build.expand import BUILTIN_PROXY_ARGS, Lex
from hull.build.parser import parse_heredoc
from hull.build.runner import DEFAULT_PATH, RunRequest
from hull.build.state import BuildServices, FsContext, StageState, Step
from hull.errors import InvalidArgument
from hull.oci.image_config import HealthConfig

if TYPE_CHECKING:
    from hull.build.instructions import Instruction

__all__ = ["DEFAULT_SHELL", "Expander", "plan", "run_env"]

DEFAULT_SHELL = ("/bin/sh", "-c")


class Expander:
    """Expands words with a stage's variables and records the ARGs it read."""

    def __init__(self, st: StageState, escape: str) -> None:
        self.env = st.args.environment(st.env)
        self.argnames = set(st.args.values) - set(st.env)
        self.escape = escape
        self.used: dict[str, str] = {}

    def _lex(self) -> Lex:
        return Lex(escape=self.escape)

    def _note(self, lex: Lex) -> None:
        for name in lex.matched & self.argnames:
            self.used[name] = self.env[name]

    def word(self, w: str) -> str:
        """One word, spaces kept."""
        lex = self._lex()
        out = lex.process_word(w, self.env)
        self._note(lex)
        return out

    def words(self, w: str) -> list[str]:
        """Split into words after expansion."""
        lex = self._lex()
        out = lex.process_words(w, self.env)
        self._note(lex)
        return out


def run_env(st: StageState, *, with_proxies: bool = True) -> dict[str, str]:
    """The environment of a RUN: ENV over the declared ARGs (and given proxy build-args)."""
    scope = st.args
    out: dict[str, str] = {}
    if with_proxies:
        out.update({k: v for k, v in scope.build_args.items() if k in BUILTIN_PROXY_ARGS})
    out.update(scope.values)
    out.update(st.env)
    return out


def _shell_form(st: StageState, cmd: str) -> tuple[str, ...]:
    return (*(st.config.shell or DEFAULT_SHELL), cmd)


def _command(st: StageState, cmd: ins_.Command) -> tuple[str, ...]:
    return tuple(cmd) if isinstance(cmd, tuple) else _shell_form(st, cmd)


def _meta(text: str, inputs: dict[str, Any], apply: Any, *, history: bool = True) -> Step:
    return Step("meta", text, {"instruction": text, **inputs}, apply=apply, history=history)


def _set(st: StageState, **changes: Any) -> None:
    st.config = dataclasses.replace(st.config, **changes)


def _args_in(ex: Expander) -> dict[str, Any]:
    return {"args": dict(sorted(ex.used.items()))} if ex.used else {}


def _plan_env(ins: ins_.EnvInstr, st: StageState, ex: Expander) -> Step:
    pairs = [(ex.word(k), ex.word(v)) for k, v in ins.pairs]
    text = "ENV " + " ".join(f"{k}={v}" for k, v in pairs)

    def apply(s: StageState) -> None:
        env = list(s.config.env or ())
        for k, v in pairs:
            env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
        _set(s, env=tuple(env))

    return _meta(text, _args_in(ex), apply)


def _plan_label(ins: ins_.LabelInstr, st: StageState, ex: Expander) -> Step:
    pairs = [(ex.word(k), ex.word(v)) for k, v in ins.pairs]
    text = "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)

    def apply(s: StageState) -> None:
        _set(s, labels={**s.config.labels, **dict(pairs)})

    return _meta(text, _args_in(ex), apply)


def _plan_arg(ins: ins_.ArgInstr, st: StageState, ex: Expander) -> Step:
    text = "ARG " + " ".join(n if d is None else f"{n}={d}" for n, d in ins.pairs)

    def apply(s: StageState) -> None:
        for name, default in ins.pairs:
            s.args.declare(name, default, s.env)

    return _meta(text, {}, apply, history=False)


def _plan_workdir(ins: ins_.WorkdirInstr, st: StageState, ex: Expander) -> Step:
    path = ex.word(ins.path)
    if not path.startswith("/"):
        path = posixpath.join(st.config.working_dir or "/", path)
    path = posixpath.normpath(path)
    if path.startswith("//"):
        path = path[1:]
    text = f"WORKDIR {path}"
    user = st.config.user

    def apply(s: StageState) -> None:
        _set(s, working_dir=path)

    def fs(ctx: FsContext) -> None:
        from hull.build.fsops import make_dirs
        from hull.build.users import resolve_user

        uid = gid = 0
        if user:
            try:
                uid, gid, _ = resolve_user(str(ctx.rootfs), user)
            except InvalidArgument:
                uid = gid = 0
        make_dirs(str(ctx.rootfs), path, uid, gid)

    step = Step("layer", text, {"instruction": text, **_args_in(ex)}, apply=apply, fs=fs)
    return step


def _ports(words: list[str]) -> list[str]:
    out = []
    for w in words:
        port, _, proto = w.partition("/")
        if not port:
            raise InvalidArgument(f"invalid containerPort: {w}")
        out.append(f"{port}/{(proto or 'tcp').lower()}")
    return out


def _plan_simple(ins: Instruction, st: StageState, ex: Expander) -> Step:
    """USER, EXPOSE, VOLUME, STOPSIGNAL, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD, …"""
    if isinstance(ins, ins_.UserInstr):
        user = ex.word(ins.user)
        return _meta(f"USER {user}", _args_in(ex), lambda s: _set(s, user=user))
    if isinstance(ins, ins_.ExposeInstr):
        ports = _ports([w for p in ins.ports for w in ex.words(p)])

        def expose(s: StageState) -> None:
            _set(s, exposed_ports=tuple(sorted(set(s.config.exposed_ports) | set(ports))))

        return _meta("EXPOSE " + " ".join(ports), _args_in(ex), expose)
    if isinstance(ins, ins_.VolumeInstr):
        vols = [ex.word(v) for v in ins.paths]

        def volume(s: StageState) -> None:
            _set(s, volumes=tuple(sorted(set(s.config.volumes) | set(vols))))

        return _meta("VOLUME " + str(vols).replace("'", '"'), _args_in(ex), volume)
    if isinstance(ins, ins_.StopsignalInstr):
        sig = ex.word(ins.signal)
        return _meta(f"STOPSIGNAL {sig}", _args_in(ex), lambda s: _set(s, stop_signal=sig))
    if isinstance(ins, ins_.CmdInstr):
        cmd = _command(st, ins.cmd)

        def set_cmd(s: StageState) -> None:
            _set(s, cmd=cmd)
            s.cmd_set = True

        return _meta(f"CMD {_json(cmd)}", {}, set_cmd)
    if isinstance(ins, ins_.EntrypointInstr):
        ep = _command(st, ins.cmd)

        def set_ep(s: StageState) -> None:
            # Docker: an ENTRYPOINT drops a CMD inherited from the base image
            _set(s, entrypoint=ep, cmd=s.config.cmd if s.cmd_set else None)

        return _meta(f"ENTRYPOINT {_json(ep)}", {}, set_ep)
    if isinstance(ins, ins_.ShellInstr):
        shell = tuple(ins.shell)
        return _meta(f"SHELL {_json(shell)}", {}, lambda s: _set(s, shell=shell))
    if isinstance(ins, ins_.HealthcheckInstr):
        hc = HealthConfig(
            test=tuple(ins.test), interval=ins.interval, timeout=ins.timeout,
            start_period=ins.start_period, start_interval=ins.start_interval,
            retries=ins.retries,
        )  # fmt: skip
        # as written: only the options given, durations in seconds (not nanoseconds)
        opts = [
            f"--{name}={ns / 1e9:g}s"
            for name, ns in (
                ("interval", ins.interval),
                ("timeout", ins.timeout),
                ("start-period", ins.start_period),
                ("start-interval", ins.start_interval),
            )
            if ns
        ]
        opts += [f"--retries={ins.retries}"] if ins.retries else []
        text = " ".join(["HEALTHCHECK", *opts, _json(ins.test)])
        return _meta(text, {}, lambda s: _set(s, healthcheck=hc))
    if isinstance(ins, ins_.OnbuildInstr):
        expr = ins.expression

        def onbuild(s: StageState) -> None:
            _set(s, on_build=(*(s.config.on_build or ()), expr))

        return _meta(f"ONBUILD {expr}", {}, onbuild)
    if isinstance(ins, ins_.MaintainerInstr):
        who = ins.maintainer

        def maintainer(s: StageState) -> None:
            s.author = who

        return _meta(f"MAINTAINER {who}", {}, maintainer)
    raise InvalidArgument(f"{ins.name} cannot be used here")


def _json(value: tuple[str, ...]) -> str:
    import json

    return json.dumps(list(value), ensure_ascii=False)


# -- RUN -----------------------------------------------------------------------------


def _run_args(ins: ins_.RunInstr, st: StageState) -> tuple[list[str], dict[str, bytes]]:
    """argv of a RUN and the heredoc scripts to bind at ``/dev/pipes/<name>``."""
    if isinstance(ins.cmd, tuple):
        return list(ins.cmd), {}
    cmd = ins.cmd
    docs = ins.heredocs
    sole = parse_heredoc(cmd.strip()) if len(docs) == 1 else None
    if sole is not None and sole.name == docs[0].name:
        content = docs[0].content
        if docs[0].chomp:
            content = "\n".join(line.lstrip("\t") for line in content.split("\n"))
        if content.startswith("#!"):
            return [f"/dev/pipes/{docs[0].name}"], {docs[0].name: content.encode()}
        return list(_shell_form(st, content)), {}
    for doc in docs:
        cmd += "\n" + doc.content + doc.name
    return list(_shell_form(st, cmd)), {}


def _plan_run(ins: ins_.RunInstr, st: StageState, svc: BuildServices) -> Step:
    from hull.build.runmounts import plan_mounts

    args, scripts = _run_args(ins, st)
    text = ins.original.strip()
    for doc in ins.heredocs:
        text += "\n" + doc.content + doc.name
    ex = Expander(st, svc.escape)
    mounts = plan_mounts(ins, ex, svc)
    seen = {k: v for k, v in run_env(st, with_proxies=False).items() if k not in st.env}
    inputs: dict[str, Any] = {"instruction": text, "args": dict(sorted(seen.items()))}
    inputs.update(mounts.inputs)
    env = run_env(st)
    env_list = [f"{k}={v}" for k, v in env.items()]
    if "PATH" not in env:
        env_list.insert(0, f"PATH={DEFAULT_PATH}")
    user, cwd = st.config.user, st.config.working_dir or "/"
    network = "none" if ins.network == "none" else "host"

    def fs(ctx: FsContext) -> None:
        from hull.build.users import resolve_user

        uid, gid, gids = resolve_user(str(ctx.rootfs), user) if user else (0, 0, [])
        req = RunRequest(
            args=args, env=env_list, cwd=cwd, uid=uid, gid=gid, gids=gids, network=network,
            hostname=ctx.step_id[:12],
        )  # fmt: skip
        for name, data in scripts.items():
            path = ctx.bundle / f"heredoc-{len(req.mounts)}"
            path.write_bytes(data)
            path.chmod(0o755)
            req.mounts.append({"destination": f"/dev/pipes/{name}", "type": "bind",
                               "source": str(path), "options": ["rbind", "ro"]})  # fmt: skip
        with mounts.prepared(ctx, req):
            svc.run(ctx, req)

    return Step("layer", text, inputs, fs=fs)


# -- dispatch ------------------------------------------------------------------------


def plan(ins: Instruction, st: StageState, svc: BuildServices) -> Step:
    """The step of one instruction of stage ``st`` (not FROM: the builder does that)."""
    if isinstance(ins, ins_.RunInstr):
        return _plan_run(ins, st, svc)
    if isinstance(ins, (ins_.CopyInstr, ins_.AddInstr)):
        ex = Expander(st, svc.escape)
        return plan_copy(ins, st, ex, svc)
    ex = Expander(st, svc.escape)
    if isinstance(ins, ins_.EnvInstr):
        return _plan_env(ins, st, ex)
    if isinstance(ins, ins_.LabelInstr):
        return _plan_label(ins, st, ex)
    if isinstance(ins, ins_.ArgInstr):
        return _plan_arg(ins, st, ex)
    if isinstance(ins, ins_.WorkdirInstr):
        return _plan_workdir(ins, st, ex)
    return _plan_simple(ins, st, ex)
