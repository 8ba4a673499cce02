"""The hull command: parsing, exit codes, timestamps, output against an in-process daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from hull.cli.main import find_verb, main
from hull.cli.timeutil import get_timestamp, parse_duration
from tests.unit.api._daemon import running_daemon


def test_find_verb() -> None:
    assert find_verb(["-H", "unix:///x", "-D", "info", "--format", "x"]) == "info"
    assert find_verb(["--log-level", "debug"]) is None


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version", "--bogus"]) == 125
    assert "unknown flag: --bogus\nSee 'hull version --help'." in capsys.readouterr().err
    assert main(["nonsense"]) == 1
    assert "'nonsense' is not a hull command" in capsys.readouterr().err


def test_timestamps() -> None:
    now = 1_700_000_000 * 10**9
    assert get_timestamp("10m", now) == "1699999400.000000000"
    assert get_timestamp("1h30m", now) == "1699994600.000000000"
    assert get_timestamp("1700000000.5", now) == "1700000000.5"
    assert get_timestamp("2023-11-14T22:13:20Z", now) == "1700000000.000000000"
    assert parse_duration("1.5s") == 1_500_000_000


def test_version_info_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_daemon(tmp_path) as d:
        host = d.addresses[0]
        assert main(["-H", host, "version"]) == 0
        out = capsys.readouterr().out
        assert "Server: hull" in out and "API version:      1.43 (minimum version 1.24)" in out
        assert main(["-H", host, "version", "--format", "{{.Server.ApiVersion}}"]) == 0
        assert capsys.readouterr().out == "1.43\n"
        assert main(["-H", host, "info"]) == 0
        assert f"Hull Root Dir: {d.config.data_root}" in capsys.readouterr().out
        assert main(["-H", host, "info", "--format", "{{.ServerVersion"]) == 64
        d.app.events.publish("container", "die", "c1", {"name": "x"})
        args = ["-H", host, "events", "--since", "1h", "--until", "0s", "--format", "{{.Action}}"]
        assert main(args) == 0
        assert capsys.readouterr().out == "die\n"


def test_unreachable_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-H", f"unix://{tmp_path}/x.sock", "info"]) == 1
    assert "Cannot connect to the hull daemon" in capsys.readouterr().err
