"""Routing, path parameters and the /v1.NN prefix."""

from __future__ import annotations

import pytest

from hull.api.http import Request, Response
from hull.api.router import MethodNotAllowed, Router, split_version
from hull.errors import InvalidArgument, NotFound


async def h1(req: Request) -> Response:
    return Response()


async def h2(req: Request) -> Response:
    return Response()


def router() -> Router:
    r = Router()
    r.add("GET", "/containers/{id}/json", h1)
    r.add("GET", "/images/{name:.*}/json", h2)
    r.add("POST", "/containers/{id}/start", h1)
    return r


def test_params_and_greedy() -> None:
    r = router()
    assert r.resolve("GET", "/containers/abc/json") == (h1, {"id": "abc"}, "1.43")
    assert r.resolve("GET", "/v1.41/images/docker.io/library/busybox:1/json") == (
        h2,
        {"name": "docker.io/library/busybox:1"},
        "1.41",
    )


def test_head_falls_back_to_get() -> None:
    assert router().resolve("HEAD", "/containers/x/json")[0] is h1


def test_unknown_and_wrong_method() -> None:
    with pytest.raises(NotFound, match="page not found"):
        router().resolve("GET", "/nope")
    with pytest.raises(MethodNotAllowed):
        router().resolve("GET", "/containers/x/start")


@pytest.mark.parametrize(
    ("path", "expect"),
    [
        ("/_ping", ("1.43", "/_ping")),
        ("/v1.40/_ping", ("1.40", "/_ping")),
        ("/v1.43/info", ("1.43", "/info")),
        ("/v1.24/info", ("1.24", "/info")),
    ],
)
def test_versions(path: str, expect: tuple[str, str]) -> None:
    assert split_version(path) == expect


def test_version_too_new_and_too_old() -> None:
    with pytest.raises(InvalidArgument) as e:
        split_version("/v1.99/version")
    assert str(e.value) == "client version 1.99 is too new. Maximum supported API version is 1.43"
    with pytest.raises(InvalidArgument, match=r"client version 1\.12 is too old"):
        split_version("/v1.12/version")
