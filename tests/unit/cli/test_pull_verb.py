"""``hull pull`` against an in-process hulld and registry: names as typed, ``-q``, logins."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from hull.cli.commands.pull import login_file
from hull.cli.main import main
from hull.distribution.credentials import config_path
from hull.distribution.push import push
from hull.errors import InvalidArgument
from hull.images import ImageService, parse_reference
from tests.unit.api._daemon import running_daemon
from tests.unit.distribution.helpers import make_image, store
from tests.unit.registry.regserver import RunningRegistry


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    """(daemon host, registry address, digest of ``team/app:v1``); no login file."""
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    reg = RunningRegistry(tmp_path / "registry")
    src: ImageService | None = None
    try:
        src = store(tmp_path / "src")
        for tag in ("v1", "latest"):
            make_image(src, f"{reg.addr}/team/app:{tag}", [{"a.txt": b"a" * 3000}])
        digest = str(push(src, f"{reg.addr}/team/app:v1").digest)
        push(src, f"{reg.addr}/team/app:latest")
        with running_daemon(tmp_path / "d") as d:
            yield d.addresses[0], reg.addr, digest
    finally:
        if src is not None:
            src.close()
        reg.close()


def hull(host: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["-H", host, *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_login_file_is_the_credentials_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    assert login_file() == str(config_path())
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert login_file() == str(config_path())
    monkeypatch.delenv("HOME")
    assert login_file() == str(config_path())


def test_names_as_typed(setup: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    # no login file: the name goes to hulld unparsed; the output is the parsed name
    host, addr, digest = setup
    cases = {
        f"{addr}/team/app": f"{addr}/team/app:latest",
        f"{addr}/team/app:v1": f"{addr}/team/app:v1",
        f"{addr}/team/app@{digest}": f"{addr}/team/app@{digest}",
    }
    for name, shown in cases.items():
        rc, out, err = hull(host, capsys, "pull", "-q", name)
        assert (rc, out) == (0, f"{shown}\n"), err
    rc, out, _ = hull(host, capsys, "image", "inspect", "--format", "{{json .RepoTags}}",
                      f"{addr}/team/app:v1")  # fmt: skip
    assert rc == 0 and set(json.loads(out)) == {f"{addr}/team/app:v1", f"{addr}/team/app:latest"}
    rc, out, _ = hull(host, capsys, "pull", f"{addr}/team/app:v1")
    assert rc == 0 and out.startswith("v1: Pulling from team/app\n"), out
    assert out.rstrip().endswith(f"Status: Image is up to date for {addr}/team/app:v1")


def test_bad_name_is_the_parsers_error(
    setup: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    host, addr, _ = setup
    for name in (f"{addr}/Team/App", f"{addr}/team/app:", "a" * 64):
        with pytest.raises(InvalidArgument) as exc:
            parse_reference(name)
        rc, out, err = hull(host, capsys, "pull", name)
        assert (rc, out, err) == (1, "", f"Error response from daemon: {exc.value.message}\n")
    rc, _, err = hull(host, capsys, "pull", f"{addr}/team/nope")
    assert rc == 1 and "Error response from daemon:" in err and "team/nope" in err


def test_with_a_login_file(
    setup: tuple[str, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a login file: the name is parsed first for its registry (the credentials go along)
    host, addr, _ = setup
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    auth = base64.b64encode(b"alice:secret").decode()
    (cfg / "config.json").write_text(json.dumps({"auths": {addr: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    rc, out, err = hull(host, capsys, "pull", "-q", f"{addr}/team/app")
    assert (rc, out) == (0, f"{addr}/team/app:latest\n"), err
    rc, out, err = hull(host, capsys, "pull", f"{addr}/Team/App")
    assert rc == 1 and "must be lowercase" in err
