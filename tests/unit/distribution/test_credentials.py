"""The docker config file, X-Registry-Auth, settings and progress shapes."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from hull.distribution import (
    AuthConfig,
    RegistrySettings,
    erase_credentials,
    load_credentials,
    message,
    store_credentials,
)
from hull.errors import FailedPrecondition


def test_store_load_erase(tmp_path: Path) -> None:
    path = tmp_path / ".docker" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"auths": {}, "psFormat": "table {{.ID}}"}))
    store_credentials("localhost:5000", AuthConfig("alice", "pw"), path)
    store_credentials("docker.io", AuthConfig("bob", "pw2"), path)
    data = json.loads(path.read_text())
    assert data["psFormat"] == "table {{.ID}}"
    assert data["auths"]["localhost:5000"]["auth"] == base64.b64encode(b"alice:pw").decode()
    assert "https://index.docker.io/v1/" in data["auths"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    got = load_credentials("http://localhost:5000/v2/", path)
    assert got is not None and (got.username, got.password) == ("alice", "pw")
    hub = load_credentials("docker.io", path)
    assert hub is not None and hub.username == "bob"
    assert erase_credentials("localhost:5000", path)
    assert not erase_credentials("localhost:5000", path)
    assert load_credentials("localhost:5000", path) is None


def test_creds_store_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credsStore": "desktop"}))
    with pytest.raises(FailedPrecondition, match="credential helper"):
        store_credentials("localhost:5000", AuthConfig("a", "b"), path)


def test_registry_auth_header() -> None:
    auth = AuthConfig("u", "p", server_address="localhost:5000")
    assert AuthConfig.from_header(auth.to_header()) == auth
    std = base64.b64encode(json.dumps({"identitytoken": "tok"}).encode()).decode()
    parsed = AuthConfig.from_header(std)
    assert parsed is not None and parsed.identity_token == "tok"
    assert AuthConfig.from_header(base64.b64encode(b"{}").decode()) is None
    assert AuthConfig.from_header("") is None


def test_settings() -> None:
    s = RegistrySettings(insecure_registries=("myreg:5000", "10.0.0.0/8"))
    assert s.endpoint("localhost:5000").secure is False
    assert s.endpoint("127.0.0.2:80").secure is False
    assert s.endpoint("myreg:5000").secure is False
    assert s.endpoint("10.1.2.3:5000").secure is False
    assert s.endpoint("example.com").secure is True
    assert s.endpoint("docker.io").host == "registry-1.docker.io"
    m = RegistrySettings.from_mapping({"registry-mirrors": ["https://mirror.local"]})
    assert [e.host for e in m.endpoints("docker.io")] == ["mirror.local", "registry-1.docker.io"]
    assert [e.host for e in m.endpoints("quay.io")] == ["quay.io"]


def test_message_shape() -> None:
    m = message("Downloading", "abc", 1_500_000, 3_000_000)
    assert set(m) == {"status", "progressDetail", "progress", "id"}
    assert m["progressDetail"] == {"current": 1_500_000, "total": 3_000_000}
    assert m["progress"].startswith("[" + "=" * 25 + ">")
    assert m["progress"].endswith("1.5MB/3MB")
    assert message("Pull complete", "abc") == {
        "status": "Pull complete",
        "progressDetail": {},
        "id": "abc",
    }
