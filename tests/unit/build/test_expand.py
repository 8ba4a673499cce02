"""Shell-word expansion as BuildKit's lexer, and the ARG scoping rules."""

from __future__ import annotations

import pytest

from hull.build.expand import ArgScope, ExpandError, expand_word, expand_words, unused_build_args

ENV = {"PWD": "/home", "SHELL": "bash", "NULL": "", "KOREAN": "한국어", "P": "a/b/c.tar.gz"}

# (word, expected or None for an error); behaviour learnt from BuildKit's envVarTest
WORDS = [
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ("he'llo", None),
    ("he\\'llo", "he'llo"),
    ("abc\\tdef", "abctdef"),
    ('"abc\\tdef"', "abc\\tdef"),
    ("'abc\\tdef'", "abc\\tdef"),
    ("hello\\", "hello"),
    ("hello\\\\", "hello\\"),
    ('"hello', None),
    ("'hello\\'", "hello\\"),
    ("\"''\"", "''"),
    ("$.", "$."),
    ("he$1x", "hex"),
    ("he$PWD", "he/home"),
    ("he\\$PWD", "he$PWD"),
    ("he\\\\$PWD", "he\\/home"),
    ('"he\\$PWD"', "he$PWD"),
    ("'$PWD'", "$PWD"),
    ("${}", None),
    ("he${hi}xx", "hexx"),
    ("he${PWD}", "he/home"),
    ("he${.}", None),
    ("he${XXX:-000}xx", "he000xx"),
    ("he${PWD:-000}xx", "he/homexx"),
    ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
    ("he${XXX:YYY}", None),
    ("he${XXX?}", None),
    ("he${PWD:?}", "he/home"),
    ("he${NULL?}", "he"),
    ("he${NULL:?}", None),
    ("he${NULL-x}", "he"),
    ("he${NULL:-x}", "hex"),
    ("he${NULL+x}", "hex"),
    ("he${NULL:+x}", "he"),
    ("he${PWD:+${SHELL}}xx", "hebashxx"),
    ("he${PWD:=000}xx", None),
    ("he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"),
    ("${aaa}}", "}"),
    ("${aaa:-bbb {foo}", "bbb {foo"),
    ("안녕$KOREAN", "안녕한국어"),
    ("$@@@", "@@"),
    ("${999:-bbb}aaa", "bbbaaa"),
    ("${P#*/}", "b/c.tar.gz"),
    ("${P##*/}", "c.tar.gz"),
    ("${P%.*}", "a/b/c.tar"),
    ("${P%%.*}", "a/b/c"),
    ("${P/\\//-}", "a-b/c.tar.gz"),
    ("${P//\\//-}", "a-b-c.tar.gz"),
    ("${P:#x}", None),
    ("${PWD", None),
]


@pytest.mark.parametrize(("word", "expected"), WORDS)
def test_expand_word(word: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ExpandError):
            expand_word(word, ENV)
    else:
        assert expand_word(word, ENV) == expected


SPLIT = [
    ("hello there", ["hello", "there"]),
    ("hello${space}bye", ["helloabc", "defbye"]),
    ('hello"${space}"bye', ["helloabc  defbye"]),
    ("hello\\ there", ["hello there"]),
    ('hello\\" there', ['hello"', "there"]),
    ("${leading}", ["ab", "c"]),
    ("80 443/tcp", ["80", "443/tcp"]),
    # BuildKit's shared word buffer: text before a ${..:-..} in the same word is lost
    ("a${X:-b}c", ["bc"]),
]


@pytest.mark.parametrize(("word", "expected"), SPLIT)
def test_expand_words(word: str, expected: list[str]) -> None:
    env = {"space": "abc  def", "leading": "  ab c"}
    assert expand_words(word, env) == expected


def test_backtick_escape() -> None:
    assert expand_word("a`$b", {"b": "x"}, escape="`") == "a$b"
    assert expand_word("a\\$b", {"b": "x"}, escape="`") == "a\\x"


def test_arg_scoping() -> None:
    glob = ArgScope.for_globals({"V": "2"}, platform={"TARGETOS": "linux"})
    glob.declare("V", "1")
    glob.declare("BASE", "alpine:${V}")
    assert glob.values["BASE"] == "alpine:2"
    stage = ArgScope({"V": "2", "OTHER": "x"}, glob.values)
    # globals are not visible in a stage until redeclared
    assert "BASE" not in stage.environment()
    stage.declare("BASE", None)
    assert stage.environment()["BASE"] == "alpine:2"
    stage.declare("TARGETOS", None)
    assert stage.values["TARGETOS"] == "linux"
    stage.declare("LOCAL", "${BASE}-x", env={"BASE": "env-wins"})
    assert stage.values["LOCAL"] == "env-wins-x"
    stage.declare("UNSET", None)
    assert "UNSET" not in stage.values
    assert unused_build_args({"V": "2", "OTHER": "x"}, glob.consumed | stage.consumed) == (
        "[Warning] One or more build-args [OTHER] were not consumed"
    )


def test_proxy_args_usable_without_declaration() -> None:
    scope = ArgScope({"HTTP_PROXY": "http://p", "NOPE": "1"})
    assert scope.environment()["HTTP_PROXY"] == "http://p"
    assert "HTTP_PROXY" not in scope.history_args()
    assert unused_build_args(["HTTP_PROXY"], []) is None
    scope.declare("HTTP_PROXY", None)
    assert scope.history_args() == {"HTTP_PROXY": "http://p"}
