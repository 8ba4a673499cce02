"""Auth: htpasswd + Basic, the Bearer token flow, per-repository rights, read-only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import bcrypt
import pytest

from tests.unit.registry.regserver import RunningRegistry, sha


@pytest.fixture
def authreg(tmp_path: Path) -> Iterator[RunningRegistry]:
    lines = []
    for user, password in (("alice", "wonderland"), ("bob", "builder"), ("eve", "x")):
        h = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        lines.append(f"{user}:{'$2y$' + h[4:]}")
    (tmp_path / "htpasswd").write_text("\n".join(lines) + "\n")
    (tmp_path / "auth.json").write_text(
        json.dumps(
            {
                "users": {
                    "alice": {"push": ["team/*"], "pull": ["*"]},
                    "bob": {"pull": ["team/*"]},
                },
                "anonymous_pull": True,
            }
        )
    )
    r = RunningRegistry(
        tmp_path / "root", htpasswd=tmp_path / "htpasswd", auth_config=tmp_path / "auth.json"
    )
    try:
        yield r
    finally:
        r.close()


def _challenge(value: str) -> dict[str, str]:
    assert value.startswith("Bearer ")
    return dict(re.findall(r'(\w+)="([^"]*)"', value))


def _token(reg: RunningRegistry, scope: str, auth: str | None) -> str:
    headers = {"Authorization": auth} if auth else {}
    r = reg.request("GET", f"/token?service=hull-registry&scope={quote(scope)}", headers=headers)
    assert r.status == 200, r.body
    body = r.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] > 0 and body["issued_at"]
    return str(body["token"])


def test_base_needs_credentials(authreg: RunningRegistry) -> None:
    r = authreg.request("GET", "/v2/")
    assert r.status == 401 and r.codes == ["UNAUTHORIZED"]
    c = _challenge(r.headers["www-authenticate"])
    assert c["realm"] == f"http://{authreg.addr}/token" and c["service"] == "hull-registry"
    assert (
        authreg.request(
            "GET", "/v2/", headers={"Authorization": authreg.basic("alice", "wonderland")}
        ).status
        == 200
    )
    r = authreg.request("GET", "/v2/", headers={"Authorization": authreg.basic("alice", "wrong")})
    assert r.status == 401
    r = authreg.request("GET", "/v2/", headers={"Authorization": "Bearer forged.token"})
    assert r.status == 401


def test_basic_push_and_rights(authreg: RunningRegistry) -> None:
    alice = authreg.basic("alice", "wonderland")
    # no credentials: never a write
    r = authreg.request("POST", "/v2/team/app/blobs/uploads/")
    assert r.status == 401
    c = _challenge(r.headers["www-authenticate"])
    assert c["scope"] == "repository:team/app:pull,push"
    authreg.auth = alice
    d = authreg.push_blob("team/app", b"layer")
    # alice may not push outside team/*
    authreg.auth = None
    r = authreg.request("POST", "/v2/other/blobs/uploads/", headers={"Authorization": alice})
    assert r.status == 403 and r.codes == ["DENIED"]
    # bob may pull team/*, not push
    bob = authreg.basic("bob", "builder")
    assert (
        authreg.request("GET", f"/v2/team/app/blobs/{d}", headers={"Authorization": bob}).status
        == 200
    )
    r = authreg.request("POST", "/v2/team/app/blobs/uploads/", headers={"Authorization": bob})
    assert r.status == 403
    r = authreg.request("DELETE", f"/v2/team/app/blobs/{d}", headers={"Authorization": bob})
    assert r.status == 403
    # anonymous pull is allowed by the config
    assert authreg.request("GET", f"/v2/team/app/blobs/{d}").status == 200


def test_token_flow(authreg: RunningRegistry) -> None:
    r = authreg.request("POST", "/v2/team/app/blobs/uploads/")
    c = _challenge(r.headers["www-authenticate"])
    token = _token(authreg, c["scope"], authreg.basic("alice", "wonderland"))
    authreg.auth = f"Bearer {token}"
    d = authreg.push_blob("team/app", b"via token")
    assert authreg.request("GET", f"/v2/team/app/blobs/{d}").status == 200
    # the token is for team/app only: another repository needs another scope
    r = authreg.request("POST", "/v2/team/other/blobs/uploads/")
    assert r.status == 401
    c = _challenge(r.headers["www-authenticate"])
    assert c["scope"] == "repository:team/other:pull,push" and c["error"] == "insufficient_scope"
    # wrong credentials get no token
    r = authreg.request(
        "GET",
        "/token?service=hull-registry&scope=repository:team/app:push",
        headers={"Authorization": authreg.basic("alice", "nope")},
    )
    assert r.status == 401


def test_token_grants_only_what_the_user_may(authreg: RunningRegistry) -> None:
    bob = authreg.basic("bob", "builder")
    token = _token(authreg, "repository:team/app:pull,push", bob)
    authreg.auth = f"Bearer {token}"
    r = authreg.request("POST", "/v2/team/app/blobs/uploads/")
    assert r.status == 403 and r.codes == ["DENIED"]


def test_anonymous_token_pull(authreg: RunningRegistry) -> None:
    authreg.auth = authreg.basic("alice", "wonderland")
    _digest, _ = authreg.image("team/app", "v1")
    authreg.auth = None
    token = _token(authreg, "repository:team/app:pull,push", None)
    authreg.auth = f"Bearer {token}"
    assert authreg.request("GET", "/v2/").status == 200
    assert authreg.request("GET", "/v2/team/app/manifests/v1").status == 200
    r = authreg.request("PUT", "/v2/team/app/manifests/v2", b"{}")
    assert r.status == 401


def test_catalog_filtered(authreg: RunningRegistry) -> None:
    authreg.auth = authreg.basic("alice", "wonderland")
    authreg.image("team/app", "v1")
    assert authreg.request("GET", "/v2/_catalog").json() == {"repositories": ["team/app"]}


def test_post_oauth_token(authreg: RunningRegistry) -> None:
    r = authreg.request(
        "POST",
        "/token",
        b"grant_type=password&username=alice&password=wonderland&service=hull-registry"
        b"&scope=repository:team/app:push",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status == 200 and r.json()["access_token"]


def test_read_only(tmp_path: Path) -> None:
    reg = RunningRegistry(tmp_path / "root")
    reg.image("x", "v1")
    reg.close()
    ro = RunningRegistry(tmp_path / "root", read_only=True)
    try:
        assert ro.request("GET", "/v2/x/manifests/v1").status == 200
        r = ro.request("POST", "/v2/x/blobs/uploads/")
        assert r.status == 405 and r.codes == ["UNSUPPORTED"]
        assert ro.request("DELETE", "/v2/x/manifests/v1").status == 405
        assert ro.request("PUT", "/v2/x/manifests/v2", b"{}").status == 405
        assert ro.request("DELETE", f"/v2/x/blobs/{sha(b'x')}").status == 405
    finally:
        ro.close()
