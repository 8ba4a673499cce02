"""hull's registry server against skopeo: copy to and from it, inspect, auth.

Everything listens on 127.0.0.1; the image is a tiny OCI layout built here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.unit.registry.regserver import RunningRegistry, make_oci_layout

SKOPEO = shutil.which("skopeo")
pytestmark = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert SKOPEO is not None
    return subprocess.run(
        [SKOPEO, "--insecure-policy", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningRegistry]:
    r = RunningRegistry(tmp_path / "root")
    try:
        yield r
    finally:
        r.close()


def test_copy_inspect_and_back(server: RunningRegistry, tmp_path: Path) -> None:
    digest = make_oci_layout(tmp_path / "src")
    dest = f"docker://{server.addr}/test/img:v1"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / 'src'}:v1", dest)
    info = json.loads(skopeo("inspect", "--tls-verify=false", dest).stdout)
    assert info["Digest"] == digest
    assert info["Os"] == "linux" and info["Architecture"] == "amd64"
    raw = skopeo("inspect", "--raw", "--tls-verify=false", dest).stdout
    assert raw.encode() == (tmp_path / "src" / "blobs" / "sha256" / digest[7:]).read_bytes()
    skopeo("copy", "--src-tls-verify=false", dest, f"oci:{tmp_path / 'back'}:v1")
    index = json.loads((tmp_path / "back" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    src_blobs = sorted(p.name for p in (tmp_path / "src" / "blobs" / "sha256").iterdir())
    back_blobs = sorted(p.name for p in (tmp_path / "back" / "blobs" / "sha256").iterdir())
    assert src_blobs == back_blobs
    # registry to registry within the server: blobs are mounted, not uploaded again
    skopeo(
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        dest,
        f"docker://{server.addr}/other/img:copy",
    )
    info = json.loads(
        skopeo("inspect", "--tls-verify=false", f"docker://{server.addr}/other/img:copy").stdout
    )
    assert info["Digest"] == digest
    tags = json.loads(
        skopeo("list-tags", "--tls-verify=false", f"docker://{server.addr}/test/img").stdout
    )
    assert tags["Tags"] == ["v1"]
    assert len(server.app.storage.content.list()) == 3


def test_docker_archive_and_auth(tmp_path: Path) -> None:
    h = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "htpasswd").write_text(f"alice:$2y${h[4:]}\n")
    server = RunningRegistry(tmp_path / "root", htpasswd=tmp_path / "htpasswd")
    try:
        make_oci_layout(tmp_path / "src")
        skopeo("copy", f"oci:{tmp_path / 'src'}:v1", f"docker-archive:{tmp_path / 'a.tar'}:x:v1")
        dest = f"docker://{server.addr}/priv/img:v1"
        denied = skopeo(
            "copy",
            "--dest-tls-verify=false",
            f"docker-archive:{tmp_path / 'a.tar'}",
            dest,
            check=False,
        )
        assert denied.returncode != 0
        assert "denied" in denied.stderr or "unauthorized" in denied.stderr.lower()
        wrong = skopeo(
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "alice:nope",
            f"docker-archive:{tmp_path / 'a.tar'}",
            dest,
            check=False,
        )
        assert wrong.returncode != 0
        skopeo(
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "alice:s3cret",
            f"docker-archive:{tmp_path / 'a.tar'}",
            dest,
        )
        raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", "alice:s3cret", dest)
        manifest = json.loads(raw.stdout)
        assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
        assert skopeo("inspect", "--tls-verify=false", dest, check=False).returncode != 0
    finally:
        server.close()
