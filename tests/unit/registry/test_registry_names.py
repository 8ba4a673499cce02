"""Names, tags and digests are validated before any path is built."""

from __future__ import annotations

import pytest

from hull.registry.errors import RegistryError
from hull.registry.names import parse_reference, validate_name, validate_tag
from tests.unit.registry.regserver import RunningRegistry, sha


@pytest.mark.parametrize("name", ["a", "library/busybox", "a.b/c_d/e__f/g--h", "x" * 255, "0/1/2"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        "a/../b",
        "a/./b",
        "A",
        "Upper/case",
        "a//b",
        "/a",
        "a/",
        "-a",
        "a_",
        "a" * 256,
        "a b",
        "a%2fb",
        ".hidden",
        "_layers",
        "a/_uploads",
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(RegistryError) as exc:
        validate_name(name)
    assert exc.value.code == "NAME_INVALID"


def test_tags() -> None:
    assert validate_tag("v1.2-rc_3") == "v1.2-rc_3"
    assert validate_tag("_x") == "_x"
    for bad in ("", ".", "..", ".x", "-x", "a" * 129, "a/b", "a:b"):
        with pytest.raises(RegistryError):
            validate_tag(bad)
    assert parse_reference(sha(b"")).hex == sha(b"")[7:]  # type: ignore[union-attr]
    with pytest.raises(RegistryError):
        parse_reference("sha256:../../etc")


def test_routes_refuse_bad_names(reg: RunningRegistry) -> None:
    for path in (
        "/v2/UPPER/tags/list",
        "/v2/a/../b/tags/list",
        "/v2/a/%2e%2e/b/manifests/latest",
        "/v2/../../etc/blobs/uploads/",
    ):
        r = reg.request("GET" if "uploads" not in path else "POST", path)
        assert r.status == 400 and r.codes == ["NAME_INVALID"], path
    r = reg.request("PUT", "/v2/x/manifests/..", b"{}")
    assert r.status == 400 and r.codes == ["TAG_INVALID"]
    assert reg.request("GET", "/v2/x/manifests/.INVALID").status == 404
    assert reg.request("GET", "/v2/x/blobs/sha256:..%2f..").status == 404  # no such route
    assert reg.request("GET", "/v2/x/blobs/sha256:..").codes == ["DIGEST_INVALID"]
    # nothing was created outside the repositories directory
    assert sorted(p.name for p in reg.config.root.iterdir()) == [
        "auth",
        "content",
        "gc.lock",
        "repositories",
    ]
    assert list((reg.config.root / "repositories").iterdir()) == []
