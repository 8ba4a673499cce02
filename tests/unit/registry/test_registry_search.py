"""``GET /v1/search``: Docker Hub's search API answered from the repository list."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.unit.registry.regserver import RunningRegistry


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_search_matches_names_and_pages(reg: RunningRegistry) -> None:
    for name in ("team/app", "team/db", "other/app-tools", "misc"):
        reg.image(name, "v1")
    r = reg.request("GET", "/v1/search?q=APP")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["query"] == "APP" and body["num_results"] == 2 and body["num_pages"] == 1
    assert [x["name"] for x in body["results"]] == ["other/app-tools", "team/app"]
    assert body["results"][0] == {"name": "other/app-tools", "description": "", "star_count": 0,
                                  "is_official": False, "is_automated": False}  # fmt: skip
    page2 = reg.request("GET", "/v1/search?q=&n=3&page=2").json()
    assert page2["num_results"] == 4 and page2["num_pages"] == 2 and page2["page"] == 2
    assert [x["name"] for x in page2["results"]] == ["team/db"]
    assert reg.request("GET", "/v1/search?q=nothing-like-it").json()["results"] == []
    assert reg.request("GET", "/v1/search?q=a&n=0").status == 400
    assert reg.request("GET", "/v1/search?q=a&n=x").status == 400
    assert reg.request("GET", "/v1/_ping").json() == {}
    assert reg.request("POST", "/v1/search?q=a").status == 405


@pytest.fixture
def authreg(tmp_path: Path) -> Iterator[RunningRegistry]:
    lines = []
    for user, password in (("alice", "wonderland"), ("bob", "builder")):
        h = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        lines.append(f"{user}:$2y${h[4:]}")
    (tmp_path / "htpasswd").write_text("\n".join(lines) + "\n")
    rights = {"users": {"alice": {"push": ["*"]}, "bob": {"pull": ["team/*"]}}}
    (tmp_path / "auth.json").write_text(json.dumps(rights))
    r = RunningRegistry(
        tmp_path / "root", htpasswd=tmp_path / "htpasswd", auth_config=tmp_path / "auth.json"
    )
    try:
        yield r
    finally:
        r.close()


def test_search_lists_only_what_the_caller_may_pull(authreg: RunningRegistry) -> None:
    authreg.auth = _basic("alice", "wonderland")
    for name in ("team/app", "secret/app"):
        authreg.image(name, "v1")
    names = [x["name"] for x in authreg.request("GET", "/v1/search?q=APP").json()["results"]]
    assert names == ["secret/app", "team/app"]
    authreg.auth = _basic("bob", "builder")
    bob = authreg.request("GET", "/v1/search?q=APP").json()
    assert [x["name"] for x in bob["results"]] == ["team/app"] and bob["num_results"] == 1
    authreg.auth = None
    assert authreg.request("GET", "/v1/search?q=APP").json()["results"] == []  # anonymous
    r = authreg.request("GET", "/v1/search?q=app", headers={"Authorization": _basic("bob", "no")})
    assert r.status == 401 and r.codes == ["UNAUTHORIZED"]
    # a bearer token (scope registry:catalog:search) counts as its user
    r = authreg.request("GET", "/token?service=hull-registry&scope=registry:catalog:search",
                        headers={"Authorization": _basic("bob", "builder")})  # fmt: skip
    token = r.json()["token"]
    r = authreg.request("GET", "/v1/search?q=app", headers={"Authorization": f"Bearer {token}"})
    assert [x["name"] for x in r.json()["results"]] == ["team/app"]
