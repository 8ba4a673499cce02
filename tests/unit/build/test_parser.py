"""The Dockerfile parser and typed instructions, against BuildKit's behaviour."""

from __future__ import annotations

import pytest

from hull.build import instructions as I
from hull.build.parser import DockerfileError, parse, parse_ast


def nodes(text: str) -> list[tuple[str, tuple[str, ...], bool, int, int]]:
    return [(n.name, n.args, n.json, n.start_line, n.end_line) for n in parse_ast(text).nodes]


def test_json_vs_shell_forms() -> None:
    got = nodes(
        'FROM a\nCMD ["a", \'b\']\nRUN ["echo"]\nRUN [ "x" , "y" ]\nCMD ["unterminated"\n'
        'ENTRYPOINT []\nCMD ["a\\"b", "\\u00e9"]\n'
    )
    assert got[1] == ("cmd", ("[\"a\", 'b']",), False, 2, 2)  # single quotes: shell form
    assert got[2] == ("run", ("echo",), True, 3, 3)
    assert got[3] == ("run", ("x", "y"), True, 4, 4)
    assert got[4][1:3] == (('["unterminated"',), False)
    assert got[5][1:3] == ((), True)
    assert got[6][1] == ('a"b', "é")


def test_json_array_of_non_strings_is_an_error() -> None:
    with pytest.raises(DockerfileError, match="Dockerfile:2: when using JSON array syntax"):
        parse_ast("FROM a\nCMD [1, 2]\n")


def test_directives_escape_and_continuations() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n# ESCAPE = `\n# check=skip=all\n\nFROM a\n"
        "RUN echo `\n  # a comment inside\n  hi `\n\n  there\nCOPY a\\b c\n"
    )
    res = parse_ast(text)
    assert res.escape == "`"
    assert res.directives.syntax == "docker/dockerfile:1"
    assert res.directives.check == "skip=all"
    run = res.nodes[1]
    assert (run.args, run.start_line, run.end_line) == (("echo   hi   there",), 6, 10)
    assert res.warnings and "Empty continuation line" in res.warnings[0]
    assert res.nodes[2].args == ("a\\b", "c")


def test_directive_after_comment_is_a_comment() -> None:
    res = parse_ast("# hello\n# escape=`\nFROM a\nRUN a \\\n b\n")
    assert res.escape == "\\"
    assert res.nodes[1].args == ("a  b",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the Dockerfile (Dockerfile) cannot be empty"),
        ("# just a comment\n", "Dockerfile:1: file with no instructions"),
        ("# syntax=a\n# syntax=b\nFROM a\n", "Dockerfile:2: only one syntax parser directive"),
        ("# escape=x\nFROM a\n", "invalid escape token 'x'"),
        ("FROM a\nRUNN x\n", "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"),
        ("FROM a\nrunn x\n", "unknown instruction: runn (did you mean run?)"),
        ("FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments"),
        ("FROM a AS 1x\n", "invalid name for build stage"),
        ("FROM a\nCOPY --form=x a b\n", "unknown flag: --form (did you mean from?)"),
        ("FROM a\nCOPY --link --link a b\n", "duplicate flag specified: --link"),
        ("FROM a\nCOPY --chown a b\n", "missing a value on flag: --chown"),
        ("FROM a\nCOPY --link=yes a b\n", "expecting boolean value for flag --link, not: yes"),
        ("FROM a\nCOPY a\n", "COPY requires at least two arguments"),
        ("FROM a\nCOPY a <<EOF\nx\nEOF\n", "COPY cannot accept a heredoc as a destination"),
        ("FROM a\nRUN <<EOF\nnever ends\n", "Dockerfile:2: unterminated heredoc"),
        ("FROM a\nRUN --network=bridge x\n", 'invalid network mode "bridge"'),
        ("FROM a\nRUN --mount=type=cach,target=/x y\n", "(did you mean cache?)"),
        ("FROM a\nRUN --mount=type=bind,uid=1,target=/x y\n", 'uid not allowed for "bind"'),
        ("FROM a\nRUN --mount=type=secret y\n", "one of source, target required"),
        ("FROM a\nRUN --mount=from=$X,target=/x y\n", "doesn't support variable expansion"),
        ("FROM a\nSHELL sh -c\n", "SHELL requires the arguments to be in JSON form"),
        ("FROM a\nENV a b=c d\n", None),  # legacy form: value "b=c d"
        ("FROM a\nENV a=b c\n", 'can\'t find = in "c"'),
        ("FROM a\nENV\n", "ENV requires at least one argument"),
        ("FROM a\nENV x\n", "ENV must have two arguments"),
        ("FROM a\nWORKDIR a b\n", None),
        ("FROM a\nUSER\n", "USER requires exactly one argument"),
        ("FROM a\nHEALTHCHECK NONE x\n", "HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK CMD\n", "Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK FOO x\n", 'Unknown type "FOO" in HEALTHCHECK (try CMD)'),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD x\n", "--retries cannot be negative (-1)"),
        ("FROM a\nONBUILD ONBUILD RUN x\n", "Chaining ONBUILD via `ONBUILD ONBUILD`"),
        ("FROM a\nONBUILD FROM b\n", "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nVOLUME\n", "VOLUME requires at least one argument"),
    ],
)
def test_errors(text: str, message: str | None) -> None:
    if message is None:
        parse(text)
        return
    with pytest.raises(DockerfileError) as info:
        parse(text)
    assert message in str(info.value)


def test_error_carries_location() -> None:
    with pytest.raises(DockerfileError) as info:
        parse("FROM a\nRUN a \\\n  b\nRUNN x\n")
    assert (info.value.line, info.value.end_line, info.value.reason) == (
        4,
        4,
        "unknown instruction: RUNN (did you mean RUN?)",
    )


def test_heredocs() -> None:
    text = (
        "FROM a\n"
        'RUN <<EOF <<-"END" cat\nx $HOME\nEOF\n\ty\n\tEND\n'
        "COPY <<EOF /dest\nz\nEOF\n"
        "COPY <<-EOF <<'B' /d/\n\tchomped\n\tEOF\nb\nB\n"
        "RUN 3<<EOF cat << X\nhi\nEOF\nx\nX\n"
        'RUN ["cat", "<<EOF"]\n'
        "ONBUILD RUN <<EOF\nq\nEOF\n"
    )
    ins = parse(text)
    run = ins[1]
    assert isinstance(run, I.RunInstr)
    assert run.cmd == '<<EOF <<-"END" cat'
    assert [(h.name, h.content, h.expand, h.chomp) for h in run.heredocs] == [
        ("EOF", "x $HOME\n", True, False),
        ("END", "\ty\n", False, True),
    ]
    assert (run.line, run.end_line) == (2, 6)
    copy = ins[2]
    assert isinstance(copy, I.CopyInstr)
    assert (copy.sources, copy.dest, copy.heredocs[0].content) == ((), "/dest", "z\n")
    copy2 = ins[3]
    assert isinstance(copy2, I.CopyInstr)
    assert [(h.name, h.content, h.expand) for h in copy2.heredocs] == [
        ("EOF", "chomped\n", True),
        ("B", "b\n", False),
    ]
    run3 = ins[4]
    assert isinstance(run3, I.RunInstr)
    assert [(h.name, h.file_descriptor) for h in run3.heredocs] == [("EOF", 3), ("X", 0)]
    exec_form = ins[5]
    assert isinstance(exec_form, I.RunInstr) and exec_form.heredocs == ()
    onb = ins[6]
    assert isinstance(onb, I.OnbuildInstr)
    assert onb.expression == "RUN <<EOF\nq\nEOF"


def test_every_instruction() -> None:
    text = """ARG BASE=alpine
FROM --platform=$BUILDPLATFORM ${BASE} AS Build
ENV a="b c" d=e\\ f
ENV legacy  some value
LABEL "k"="v" k2=v2
ARG A B=c
RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0755,uid=1 \\
    --mount=type=secret,id=tok,required --network=none --security=insecure pip install x
COPY --from=build --chown=1:2 --chmod=644 --link --parents --exclude=*.md --exclude=x a b /d/
ADD --checksum=sha256:aa --keep-git-dir=true --exclude=y https://e/x.git /src
WORKDIR /app
USER app:app
EXPOSE 8080 80/tcp
VOLUME ["/data", "/logs"]
VOLUME /a /b
ENTRYPOINT ["/bin/app"]
CMD echo --help
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=1s \\
  --retries=3 CMD ["curl", "-f", "http://x"]
SHELL ["/bin/bash", "-c"]
ONBUILD COPY . /app
MAINTAINER me <me@example.com>
healthcheck none
"""
    ins = parse(text)
    kinds = [type(i).__name__ for i in ins]
    assert kinds == [
        "ArgInstr", "FromInstr", "EnvInstr", "EnvInstr", "LabelInstr", "ArgInstr", "RunInstr",
        "CopyInstr", "AddInstr", "WorkdirInstr", "UserInstr", "ExposeInstr", "VolumeInstr",
        "VolumeInstr", "EntrypointInstr", "CmdInstr", "StopsignalInstr", "HealthcheckInstr",
        "ShellInstr", "OnbuildInstr", "MaintainerInstr", "HealthcheckInstr",
    ]  # fmt: skip
    frm = ins[1]
    assert frm == I.FromInstr(
        line=2, end_line=2, original="FROM --platform=$BUILDPLATFORM ${BASE} AS Build",
        image="${BASE}", alias="build", platform="$BUILDPLATFORM",
    )  # fmt: skip
    assert ins[2].pairs == (("a", '"b c"'), ("d", "e\\ f"))  # type: ignore[attr-defined]
    assert ins[3].pairs == (("legacy", "some value"),)  # type: ignore[attr-defined]
    assert ins[4].pairs == (('"k"', '"v"'), ("k2", "v2"))  # type: ignore[attr-defined]
    assert ins[5].pairs == (("A", None), ("B", "c"))  # type: ignore[attr-defined]
    run = ins[6]
    assert isinstance(run, I.RunInstr)
    assert (run.line, run.end_line, run.network, run.security) == (7, 8, "none", "insecure")
    assert run.cmd == "pip install x"
    cache, secret = run.mounts
    assert (cache.type, cache.target, cache.id, cache.sharing, cache.mode, cache.uid) == (
        "cache", "/root/.cache", "pip", "locked", 0o755, 1,
    )  # fmt: skip
    assert cache.readonly is False
    assert (secret.type, secret.id, secret.required, secret.readonly) == (
        "secret",
        "tok",
        True,
        True,
    )
    copy = ins[7]
    assert isinstance(copy, I.CopyInstr)
    assert (copy.sources, copy.dest, copy.from_, copy.chown, copy.chmod) == (
        ("a", "b"), "/d/", "build", "1:2", "644",
    )  # fmt: skip
    assert (copy.link, copy.parents, copy.exclude) == (True, True, ("*.md", "x"))
    add = ins[8]
    assert isinstance(add, I.AddInstr)
    assert (add.checksum, add.keep_git_dir, add.unpack, add.exclude) == (
        "sha256:aa",
        True,
        None,
        ("y",),
    )
    assert ins[11].ports == ("80/tcp", "8080")  # type: ignore[attr-defined]
    assert ins[12].paths == ("/data", "/logs")  # type: ignore[attr-defined]
    assert ins[13].paths == ("/a", "/b")  # type: ignore[attr-defined]
    assert ins[14].cmd == ("/bin/app",)  # type: ignore[attr-defined]
    assert ins[15].cmd == "echo --help"  # type: ignore[attr-defined]
    hc = ins[17]
    assert isinstance(hc, I.HealthcheckInstr)
    assert hc.test == ("CMD", "curl", "-f", "http://x")
    assert (hc.interval, hc.timeout, hc.start_period, hc.start_interval, hc.retries) == (
        30 * 10**9, 90 * 10**9, 5 * 10**9, 10**9, 3,
    )  # fmt: skip
    assert ins[19].expression == "COPY . /app"  # type: ignore[attr-defined]
    assert ins[20].maintainer == "me <me@example.com>"  # type: ignore[attr-defined]
    assert ins[21].test == ("NONE",)  # type: ignore[attr-defined]


def test_flags_quotes_and_double_dash() -> None:
    ins = parse('FROM a\nCOPY --chown="a b" -- --x /y\nRUN -- --notaflag\n')
    copy = ins[1]
    assert isinstance(copy, I.CopyInstr)
    assert (copy.chown, copy.sources) == ("a b", ("--x",))
    assert ins[2].cmd == "--notaflag"  # type: ignore[attr-defined]


def test_stages() -> None:
    ins = parse("ARG V=1\nARG X\nFROM a:$V AS one\nRUN x\nFROM one\nCOPY --from=one / /\n")
    st = I.stages(ins)
    assert [(s.index, s.name, s.base, len(s.instructions)) for s in st] == [
        (0, "one", "a:$V", 1),
        (1, None, "one", 1),
    ]
    assert [a.pairs for a in st[0].global_args] == [(("V", "1"),), (("X", None),)]
    with pytest.raises(DockerfileError, match="no build stage in current context"):
        I.stages(parse("RUN x\nFROM a\n"))


def test_run_mount_expansion_later() -> None:
    ins = parse("FROM a\nRUN --mount=type=$T,target=/x y\n")
    run = ins[1]
    assert isinstance(run, I.RunInstr)
    assert run.mounts == () and run.mount_specs == ("type=$T,target=/x",)
    m = I.RunMount.parse(run.mount_specs[0], lambda v: v.replace("$T", "tmpfs"))
    assert (m.type, m.target, m.readonly) == ("tmpfs", "/x", False)


def test_bom_crlf_and_leading_whitespace() -> None:
    got = nodes("\ufeffFROM a\r\n   run  echo hi \\\r\n  there\r\n")
    assert got == [("from", ("a",), False, 1, 1), ("run", ("echo hi   there",), False, 2, 3)]


def test_flags_on_any_instruction_as_buildkit() -> None:
    # BuildKit splits leading --words off every instruction: CMD --help is a flag error
    with pytest.raises(DockerfileError, match="unknown flag: --help"):
        parse("FROM a\nCMD --help\n")
    # ...but ARG and STOPSIGNAL never check their flags
    assert isinstance(parse("FROM a\nARG --x A\n")[1], I.ArgInstr)
