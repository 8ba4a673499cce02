"""The image verbs of ``hull`` against an in-process hulld: Docker's outputs."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hull.cli.commands.history import ellipsis
from hull.cli.commands.images import image_rows
from hull.cli.main import main
from tests.unit.api._daemon import running_daemon
from tests.unit.api.test_images_routes import rootfs_tar


@pytest.fixture
def host(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "rootfs.tar").write_bytes(rootfs_tar())
    with running_daemon(tmp_path) as d:
        yield d.addresses[0]


def hull(host: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(["-H", host, *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_images_table_quiet_format(
    host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = hull(host, capsys, "import", "-c", 'CMD ["sh"]', str(tmp_path / "rootfs.tar"),
                      "foo:1")  # fmt: skip
    assert rc == 0 and re.fullmatch(r"sha256:[0-9a-f]{64}\n", out)
    image_id = out.strip()
    assert hull(host, capsys, "tag", "foo:1", "localhost:5000/team/app")[0] == 0

    rc, out, _ = hull(host, capsys, "images")
    lines = out.splitlines()
    assert lines[0] == "REPOSITORY                TAG       IMAGE ID       CREATED   SIZE" or (
        re.fullmatch(r"REPOSITORY +TAG +IMAGE ID +CREATED +SIZE", lines[0])
    )
    # docker's units.HumanDuration: "Less than a second", "1 second", "N seconds"
    created = r"(Less than a second|1 second|\d+ seconds) ago"
    assert re.fullmatch(rf"foo +1 +{image_id[7:19]} +{created} +10\.2kB", lines[1])
    assert lines[2].startswith("localhost:5000/team/app   latest    ")
    rc, out, _ = hull(host, capsys, "images", "-q")
    assert out == f"{image_id[7:19]}\n" * 2  # one line per name, as docker
    rc, out, _ = hull(host, capsys, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert out == "foo:1\nlocalhost:5000/team/app:latest\n"
    rc, out, _ = hull(host, capsys, "images", "--no-trunc", "--format", "{{.ID}} {{.Size}}", "foo")
    assert out == f"{image_id} 10.2kB\n"
    rc, out, _ = hull(host, capsys, "image", "ls", "--format", "table {{.Tag}}\t{{.Size}}",
                      "-f", "reference=foo")  # fmt: skip
    assert out == "TAG       SIZE\n1         10.2kB\n"
    rc, out, _ = hull(host, capsys, "images", "--format", "{{json .}}", "foo")
    doc = json.loads(out)
    assert list(doc) == sorted(doc) and doc["Containers"] == "N/A" and doc["Digest"] == "<none>"
    rc, _, err = hull(host, capsys, "images", "-f", "bogus")
    assert rc == 125 and "bad format of filter (expected name=value): bogus" in err


def test_inspect_history_tag_rmi(
    host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tar = str(tmp_path / "rootfs.tar")
    _, out, _ = hull(host, capsys, "import", "-m", "a message", tar, "foo:1")
    image_id = out.strip()
    rc, out, _ = hull(host, capsys, "image", "inspect", "foo:1")
    assert rc == 0 and out.startswith('[\n    {\n        "Id": "sha256:')
    assert json.loads(out)[0]["Id"] == image_id
    rc, out, _ = hull(host, capsys, "inspect", "--format", "{{.Id}} {{.Comment}}", "foo:1")
    assert out == f"{image_id} a message\n"
    rc, out, err = hull(host, capsys, "image", "inspect", "nope")
    assert (rc, out, err) == (1, "[]\n", "Error: No such image: nope\n")
    rc, out, err = hull(host, capsys, "inspect", "nope")
    assert (rc, out, err) == (1, "[]\n", "Error: No such object: nope\n")

    rc, out, _ = hull(host, capsys, "history", "foo:1")
    head, row = out.splitlines()
    assert re.fullmatch(r"IMAGE +CREATED +CREATED BY +SIZE +COMMENT", head)
    assert row.startswith(image_id[7:19] + "   ") and row.endswith("10.2kB    a message")
    rc, out, _ = hull(host, capsys, "history", "-q", "--no-trunc", "foo:1")
    assert out == image_id + "\n"
    rc, out, _ = hull(host, capsys, "history", "--human=false", "--format", "{{.Size}}", "foo:1")
    assert out == "10240\n"

    assert hull(host, capsys, "tag", "foo:1", "bar")[0] == 0
    rc, out, _ = hull(host, capsys, "rmi", "bar")
    assert (rc, out) == (0, "Untagged: bar:latest\n")
    rc, out, err = hull(host, capsys, "rmi", "foo:1", "nope")
    assert rc == 1
    assert out == f"Untagged: foo:1\nDeleted: {image_id}\n"
    assert err == "Error response from daemon: No such image: nope:latest\n"
    rc, out, err = hull(host, capsys, "rmi", "-f", "nope")
    assert rc == 0 and "No such image" in err  # -f: a missing image is not fatal


def test_save_load_import_prune_df(
    host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rc, out, _ = hull(host, capsys, "bootstrap", "busybox")
    assert rc == 0 and out.startswith("sha256:")
    busybox_id = out.strip()
    rc, out, _ = hull(host, capsys, "image", "inspect", "-f", "{{.Config.Cmd}} {{.Config.Env}}",
                      "busybox")  # fmt: skip
    assert out.startswith("[sh] [PATH=/usr/local/sbin:")
    archive = tmp_path / "out.tar"
    assert hull(host, capsys, "save", "-o", str(archive), "busybox")[0] == 0
    assert archive.stat().st_size > 1_000_000
    assert hull(host, capsys, "rmi", "busybox")[0] == 0
    rc, out, _ = hull(host, capsys, "load", "-i", str(archive))
    assert (rc, out) == (0, "Loaded image: busybox:latest\n")
    rc, out, _ = hull(host, capsys, "images", "-q", "--no-trunc")
    assert out == busybox_id + "\n"
    rc, _, err = hull(host, capsys, "load", "-i", str(tmp_path / "missing.tar"))
    assert rc == 1 and "no such file or directory" in err

    rc, out, _ = hull(host, capsys, "system", "df")
    lines = out.splitlines()
    assert re.fullmatch(r"TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE", lines[0])
    assert re.fullmatch(r"Images +1 +0 +2\.\d+MB +2\.\d+MB \(100%\)", lines[1])
    assert re.fullmatch(r"Build Cache +0 +0 +0B +0B", lines[4])
    rc, out, _ = hull(host, capsys, "system", "df", "-v")
    assert out.startswith("Images space usage:\n\nREPOSITORY ") and "\nbusybox " in out
    rc, out, _ = hull(host, capsys, "system", "df", "--format", "{{.Type}}={{.TotalCount}}")
    assert out == "Images=1\nContainers=0\nLocal Volumes=0\nBuild Cache=0\n"

    # a dangling image (import without a name), then prune with and without consent
    _, out, _ = hull(host, capsys, "import", str(tmp_path / "rootfs.tar"))
    dangling = out.strip()
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    rc, out, _ = hull(host, capsys, "image", "prune")
    assert out == (
        "WARNING! This will remove all dangling images.\n"
        "Are you sure you want to continue? [y/N] Total reclaimed space: 0B\n"
    )
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    rc, out, _ = hull(host, capsys, "image", "prune")
    assert f"Deleted Images:\ndeleted: {dangling}\n" in out
    assert re.search(r"\n\nTotal reclaimed space: \d+(\.\d+)?kB\n$", out)
    rc, out, _ = hull(host, capsys, "image", "prune", "-a", "-f")
    assert "untagged: busybox:latest\n" in out
    assert hull(host, capsys, "images", "-q") == (0, "", "")


def test_save_refuses_a_terminal(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    rc, _, err = hull(host, capsys, "save", "busybox")
    assert rc == 1
    assert err == "Cowardly refusing to save to a terminal. Use the -o flag or redirect.\n"


def test_rows_and_ellipsis() -> None:
    img = {
        "Id": "sha256:" + "a" * 64,
        "RepoTags": ["x:1", "x:2", "y:1"],
        "RepoDigests": ["x@sha256:" + "b" * 64, "z@sha256:" + "c" * 64],
        "Size": 1234567,
        "SharedSize": -1,
        "Containers": -1,
        "Created": 0,
    }
    rows = image_rows([img], digests=False, trunc=True)
    assert [(r["Repository"], r["Tag"], r["Digest"]) for r in rows] == [
        ("x", "1", "<none>"), ("x", "2", "<none>"), ("y", "1", "<none>"), ("z", "<none>", ""),
    ]  # fmt: skip
    rows = image_rows([img], digests=True, trunc=True)
    assert rows[0]["Digest"] == "sha256:" + "b" * 64 and rows[0]["Size"] == "1.23MB"
    assert rows[-1]["Digest"] == "sha256:" + "c" * 64
    dangling = dict(img, RepoTags=["<none>:<none>"], RepoDigests=["<none>@<none>"])
    assert image_rows([dangling], digests=False, trunc=True)[0]["Repository"] == "<none>"
    assert ellipsis("a" * 50, 45) == "a" * 44 + "…"
    assert ellipsis("short", 45) == "short"
