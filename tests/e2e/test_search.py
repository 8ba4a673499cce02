"""``docker search`` and ``hull search`` through hulld, against hull's registry and docker-registry.

hulld runs as a process on a temp data root; hull's registry runs in-process
on 127.0.0.1 (it answers ``/v1/search``); Debian's ``docker-registry``
(distribution 2.8) does not, so the search falls back to its catalog.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_pull_push import Daemon, daemon, distribution  # noqa: F401  (fixtures)
from tests.unit.registry.regserver import RunningRegistry

DOCKER = "/usr/bin/docker"


@pytest.fixture
def hullreg(tmp_path: Path) -> Iterator[RunningRegistry]:
    r = RunningRegistry(tmp_path / "hullreg")
    try:
        yield r
    finally:
        r.close()


def _push_raw(addr: str, name: str) -> None:
    """A config-only image pushed with plain distribution-spec calls."""
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()  # fmt: skip
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    conn = http.client.HTTPConnection(addr, timeout=30)
    try:
        conn.request("POST", f"/v2/{name}/blobs/uploads/", headers={"Content-Length": "0"})
        r = conn.getresponse()
        r.read()
        assert r.status == 202, r.status
        loc = r.getheader("Location") or ""
        loc = loc.split(addr, 1)[-1]
        sep = "&" if "?" in loc else "?"
        conn.request("PUT", f"{loc}{sep}digest={digest}", body=config)
        r = conn.getresponse()
        r.read()
        assert r.status == 201, r.status
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": digest, "size": len(config)},
            "layers": [],
        }).encode()  # fmt: skip
        kind = {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
        conn.request("PUT", f"/v2/{name}/manifests/v1", body=manifest, headers=kind)
        r = conn.getresponse()
        r.read()
        assert r.status == 201, r.status
    finally:
        conn.close()


def _docker(d: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DOCKER_HOST=f"unix://{d.tmp}/hull.sock",
               DOCKER_CONFIG=str(d.tmp / "docker-config"))  # fmt: skip
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env, timeout=60)


def _names(table: str) -> list[str]:
    lines = table.splitlines()
    assert lines and lines[0].split()[:2] == ["NAME", "DESCRIPTION"], table
    return [line.split()[0] for line in lines[1:]]


def test_search_hull_registry(daemon: Daemon, hullreg: RunningRegistry) -> None:  # noqa: F811
    for name in ("team/webapp", "team/db", "tools/webapp-cli"):
        _push_raw(hullreg.addr, name)
    addr = hullreg.addr
    r = daemon.hull("search", f"{addr}/webapp")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL",
                                                "AUTOMATED"]  # fmt: skip
    assert _names(r.stdout) == ["team/webapp", "tools/webapp-cli"]
    r = daemon.hull("search", "--limit", "1", "--format", "{{.Name}}:{{.StarCount}}",
                    f"{addr}/webapp")  # fmt: skip
    assert r.returncode == 0 and r.stdout == "team/webapp:0\n", r.stdout + r.stderr
    r = daemon.hull("search", "--filter", "is-official=true", f"{addr}/webapp")
    assert r.returncode == 0 and _names(r.stdout) == [], r.stdout + r.stderr
    r = daemon.hull("search", "--filter", "bogus=1", f"{addr}/webapp")
    assert r.returncode != 0 and "invalid filter 'bogus'" in r.stderr
    if not Path(DOCKER).exists():
        pytest.skip("no docker CLI at /usr/bin/docker")
    r = _docker(daemon, "search", f"{addr}/webapp")
    assert r.returncode == 0, r.stderr
    assert _names(r.stdout) == ["team/webapp", "tools/webapp-cli"]
    r = _docker(daemon, "search", "--limit", "1", "--format", "{{.Name}}", f"{addr}/db")
    assert r.returncode == 0 and r.stdout == "team/db\n", r.stdout + r.stderr


def test_search_docker_registry_falls_back_to_catalog(daemon: Daemon, distribution: str) -> None:  # noqa: F811
    for name in ("team/webapp", "team/db"):
        _push_raw(distribution, name)
    r = daemon.hull("search", f"{distribution}/web")
    assert r.returncode == 0, r.stderr
    assert _names(r.stdout) == ["team/webapp"]
    if shutil.which(DOCKER) is None:
        pytest.skip("no docker CLI at /usr/bin/docker")
    r = _docker(daemon, "search", f"{distribution}/team")
    assert r.returncode == 0 and _names(r.stdout) == ["team/db", "team/webapp"], r.stderr
