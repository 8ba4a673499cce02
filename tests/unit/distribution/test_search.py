"""The search client against our registry in-process: v1 search, catalog fallback, filters."""

from __future__ import annotations

import pytest

from hull.distribution import AuthConfig, RegistrySettings, SearchResult, filter_results
from hull.distribution.search import _catalog_search, search, split_term
from hull.distribution.transport import RegistryClient
from hull.errors import InvalidArgument
from tests.unit.registry.regserver import RunningRegistry
from tests.unit.registry.test_registry_search import authreg  # noqa: F401  (fixture)


def test_split_term() -> None:
    assert split_term("busybox") == ("docker.io", "busybox")
    assert split_term("library/busybox") == ("docker.io", "library/busybox")
    assert split_term("127.0.0.1:5000/app") == ("127.0.0.1:5000", "app")
    assert split_term("localhost/team/app") == ("localhost", "team/app")


def test_search_v1_and_default_registry(reg: RunningRegistry) -> None:
    for name in ("team/app", "team/db", "app"):
        reg.image(name, "v1")
    found = search(f"{reg.addr}/app")
    assert [r.name for r in found] == ["app", "team/app"]
    assert found[0] == SearchResult("app")
    assert [r.name for r in search(f"{reg.addr}/app", limit=1)] == ["app"]
    # a bare term goes to the default registry when one is set
    settings = RegistrySettings(default_registry=reg.addr)
    assert [r.name for r in search("db", settings=settings)] == ["team/db"]
    with pytest.raises(InvalidArgument, match="outside the range"):
        search(f"{reg.addr}/app", limit=101)


def test_catalog_fallback(reg: RunningRegistry) -> None:
    for name in ("team/app", "team/db"):
        reg.image(name, "v1")
    client = RegistryClient(RegistrySettings().endpoint(reg.addr))
    try:
        assert _catalog_search(client, "APP", 10) == [SearchResult("team/app")]
    finally:
        client.close()


def test_search_with_credentials(authreg: RunningRegistry) -> None:  # noqa: F811
    authreg.auth = authreg.basic("alice", "wonderland")
    for name in ("team/app", "secret/app"):
        authreg.image(name, "v1")
    term = f"{authreg.addr}/app"
    assert search(term) == []  # anonymous sees nothing
    bob = AuthConfig(username="bob", password="builder")
    assert [r.name for r in search(term, auth=bob)] == ["team/app"]


def test_filters() -> None:
    rs = [SearchResult("a", star_count=3, is_official=True), SearchResult("b", star_count=10)]
    assert filter_results(rs, {"is-official": ["true"]}) == rs[:1]
    assert filter_results(rs, {"is-official": ["false"], "stars": ["2"]}) == rs[1:]
    assert filter_results(rs, {"stars": ["5", "11"]}) == []
    assert filter_results(rs, {"is-automated": ["false"]}) == rs
    for bad in ({"nope": ["1"]}, {"stars": ["x"]}, {"is-official": ["maybe"]}):
        with pytest.raises(InvalidArgument, match="invalid filter"):
            filter_results(rs, bad)
