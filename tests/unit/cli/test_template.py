"""The Go-template subset of --format, and Docker's tables."""

from __future__ import annotations

import pytest

from hull.cli.table import Format, render_table, tabwrite
from hull.cli.template import TemplateError, render

DATA = {
    "Server": {"Version": "0.1.0", "Components": [{"Name": "Engine"}, {"Name": "runc"}]},
    "Labels": {"b": "2", "a": "1"},
    "Names": ["web", "db"],
    "Nil": None,
    "On": True,
    "Size": 1234567.0,
    "Count": 3,
}

CASES = [
    ("{{.Server.Version}}", "0.1.0"),
    ("{{json .Labels}}", '{"b":"2","a":"1"}'),
    ("{{json .Server.Components}}", '[{"Name":"Engine"},{"Name":"runc"}]'),
    ("{{.Labels.a}}", "1"),
    ('{{index .Labels "b"}}', "2"),
    ("{{index .Names 1}}", "db"),
    ("{{range .Server.Components}}{{.Name}};{{end}}", "Engine;runc;"),
    ("{{range $i, $n := .Names}}{{$i}}:{{$n}} {{end}}", "0:web 1:db "),
    ("{{range .Missing}}x{{else}}none{{end}}", "none"),
    ("{{if .Nil}}y{{else}}n{{end}}", "n"),
    ("{{if .On}}on{{end}}", "on"),
    ("{{if eq .Count 2}}two{{else if eq .Count 3}}three{{else}}?{{end}}", "three"),
    ("{{with .Server}}{{.Version}}{{end}}", "0.1.0"),
    ('{{join .Names ","}}', "web,db"),
    ('{{upper .Server.Version}}{{lower "AB"}}', "0.1.0ab"),
    ('{{printf "%s=%d" .Server.Version .Count}}', "0.1.0=3"),
    ('{{printf "%-5s|" "ab"}}', "ab   |"),
    ("{{println .Count}}", "3\n"),
    ("{{.Missing}}", "<no value>"),
    ("{{.Nil}}", "<nil>"),
    ("{{.Labels}}", "map[a:1 b:2]"),
    ("{{.Names}}", "[web db]"),
    ("{{.Size}}", "1.234567e+06"),
    ("{{len .Names}}", "2"),
    ("{{.Server.Version | upper}}", "0.1.0"),
    ("{{(index .Server.Components 1).Name}}", "runc"),
    ("a {{- .Count -}} b", "a3b"),
    ("{{/* note */}}x", "x"),
    ("{{$.Count}}", "3"),
    ("{{and .On .Count}} {{or .Nil .Count}} {{not .On}}", "3 3 false"),
]


@pytest.mark.parametrize(("tmpl", "out"), CASES)
def test_render(tmpl: str, out: str) -> None:
    assert render(tmpl, DATA) == out


def test_json_dot_keeps_order() -> None:
    assert render("{{json .}}", {"b": 1, "a": [1, 2]}) == '{"b":1,"a":[1,2]}'


@pytest.mark.parametrize("bad", ["{{.X", "{{if .X}}", "{{end}}", "{{nofunc .X}}", "{{(.X}}"])
def test_parse_errors(bad: str) -> None:
    with pytest.raises(TemplateError) as e:
        render(bad, {})
    assert e.value.parse


def test_exec_error_nil_field() -> None:
    with pytest.raises(TemplateError) as e:
        render("{{.Nil.X}}", DATA)
    assert not e.value.parse


def test_table_format_like_docker() -> None:
    f = Format("table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}", {"ID": "IMAGE ID"})
    out = f.render(
        [
            {"Repository": "busybox", "Tag": "latest", "ID": "abc"},
            {"Repository": "a-much-longer-name", "Tag": "1.36", "ID": "def"},
        ]
    )
    assert out == (
        "REPOSITORY           TAG       IMAGE ID\n"
        "busybox              latest    abc\n"
        "a-much-longer-name   1.36      def\n"
    )


def test_plain_and_json_formats() -> None:
    assert Format("{{.A}}").render([{"A": 1}, {"A": 2}]) == "1\n2\n"
    assert Format("json").render([{"A": 1}]) == '{"A":1}\n'
    assert Format("table {{.CreatedSince}}").header() == "CREATED SINCE"


def test_render_table() -> None:
    rows = [{"id": "1", "name": "x"}]
    assert render_table(rows, [("ID", "id"), ("NAME", "name")]) == ("ID        NAME\n1         x\n")
    assert tabwrite(["a\tb\tc"]) == "a         b         c\n"
