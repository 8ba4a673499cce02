"""Reference parsing against the cases of github.com/distribution/reference.

The tables restate, as (input → result), the examples of its normalize_test.go
and reference_test.go (there for ``Parse``; here after normalisation, as
``docker`` sees them).
"""

import dataclasses

import pytest

from hull.errors import InvalidArgument
from hull.images.reference import (
    Reference,
    familiar_name,
    is_digest_id,
    parse_any_reference,
    parse_normalized_named,
    parse_reference,
)
from hull.oci.digest import Digest

F64 = "f" * 64
SHA = "sha256:" + F64
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
DBCC = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"

# input -> (domain, path, tag, digest) after ParseNormalizedNamed (no default tag)
VALID: list[tuple[str, tuple[str, str, str | None, str | None]]] = [
    ("busybox", ("docker.io", "library/busybox", None, None)),
    ("test_com", ("docker.io", "library/test_com", None, None)),
    ("test.com:tag", ("docker.io", "library/test.com", "tag", None)),
    ("test.com:5000", ("docker.io", "library/test.com", "5000", None)),
    ("test.com/repo:tag", ("test.com", "repo", "tag", None)),
    ("test:5000/repo", ("test:5000", "repo", None, None)),
    ("test:5000/repo:tag", ("test:5000", "repo", "tag", None)),
    (f"test:5000/repo@{SHA}", ("test:5000", "repo", None, SHA)),
    (f"test:5000/repo:tag@{SHA}", ("test:5000", "repo", "tag", SHA)),
    ("lowercase:Uppercase", ("docker.io", "library/lowercase", "Uppercase", None)),
    (
        "a/" * 127 + "a:tag-puts-this-over-max",
        ("docker.io", "a/" * 127 + "a", "tag-puts-this-over-max", None),
    ),
    ("sub-dom1.foo.com/bar/baz/quux", ("sub-dom1.foo.com", "bar/baz/quux", None, None)),
    (
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        ("sub-dom1.foo.com", "bar/baz/quux", "some-long-tag", None),
    ),
    (
        "b.gcr.io/test.example.com/my-app:test.example.com",
        ("b.gcr.io", "test.example.com/my-app", "test.example.com", None),
    ),
    ("xn--n3h.com/myimage:xn--n3h.com", ("xn--n3h.com", "myimage", "xn--n3h.com", None)),
    (
        "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + "f" * 128,
        ("xn--7o8h.com", "myimage", "xn--7o8h.com", "sha512:" + "f" * 128),
    ),
    ("foo_bar.com:8080", ("docker.io", "library/foo_bar.com", "8080", None)),
    ("foo/foo_bar.com:8080", ("docker.io", "foo/foo_bar.com", "8080", None)),
    ("192.168.1.1", ("docker.io", "library/192.168.1.1", None, None)),
    ("192.168.1.1:tag", ("docker.io", "library/192.168.1.1", "tag", None)),
    ("192.168.1.1:5000", ("docker.io", "library/192.168.1.1", "5000", None)),
    ("192.168.1.1/repo", ("192.168.1.1", "repo", None, None)),
    ("192.168.1.1:5000/repo", ("192.168.1.1:5000", "repo", None, None)),
    ("192.168.1.1:5000/repo:5050", ("192.168.1.1:5000", "repo", "5050", None)),
    ("192.168.0.1:8/debian", ("192.168.0.1:8", "debian", None, None)),
    ("[2001:db8::1]/repo", ("[2001:db8::1]", "repo", None, None)),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", ("[2001:db8:1:2:3:4:5:6]", "repo", "tag", None)),
    ("[2001:db8::1]:5000/repo", ("[2001:db8::1]:5000", "repo", None, None)),
    ("[2001:db8::1]:5000/repo:tag", ("[2001:db8::1]:5000", "repo", "tag", None)),
    (f"[2001:db8::1]:5000/repo@{SHA}", ("[2001:db8::1]:5000", "repo", None, SHA)),
    (f"[2001:db8::1]:5000/repo:tag@{SHA}", ("[2001:db8::1]:5000", "repo", "tag", SHA)),
    ("[2001:db8::]:5000/repo", ("[2001:db8::]:5000", "repo", None, None)),
    ("[::1]:5000/repo", ("[::1]:5000", "repo", None, None)),
    ("[fc00::1]:5000/docker/docker", ("[fc00::1]:5000", "docker/docker", None, None)),
    # normalisation of Docker Hub names
    ("docker/docker", ("docker.io", "docker/docker", None, None)),
    ("library/debian", ("docker.io", "library/debian", None, None)),
    ("docker.io/docker/docker", ("docker.io", "docker/docker", None, None)),
    ("docker.io/library/debian", ("docker.io", "library/debian", None, None)),
    ("docker.io/debian", ("docker.io", "library/debian", None, None)),
    ("index.docker.io/docker/docker", ("docker.io", "docker/docker", None, None)),
    ("index.docker.io/library/debian", ("docker.io", "library/debian", None, None)),
    ("index.docker.io/debian", ("docker.io", "library/debian", None, None)),
    ("127.0.0.1:5000/docker/docker", ("127.0.0.1:5000", "docker/docker", None, None)),
    ("127.0.0.1:5000/debian", ("127.0.0.1:5000", "debian", None, None)),
    ("192.168.0.1:80", ("docker.io", "library/192.168.0.1", "80", None)),
    ("localhost/app", ("localhost", "app", None, None)),
    ("localhost:5000/team/app:v1", ("localhost:5000", "team/app", "v1", None)),
    ("localhost", ("docker.io", "library/localhost", None, None)),
    ("test_com/foo", ("docker.io", "test_com/foo", None, None)),
    ("test-com:8080/foo", ("test-com:8080", "foo", None, None)),
    ("xn--n3h.com:18080/foo", ("xn--n3h.com:18080", "foo", None, None)),
    ("docker.io/library/foo/bar", ("docker.io", "library/foo/bar", None, None)),
    (f"docker.io/{HEX64}", ("docker.io", f"library/{HEX64}", None, None)),
    (
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        (
            "docker.io",
            "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
            None,
            None,
        ),
    ),
    # an upper-case first component is taken as a domain
    ("Docker/docker", ("Docker", "docker", None, None)),
    ("DOCKER/docker", ("DOCKER", "docker", None, None)),
    # separators
    ("docker-rules/docker", ("docker.io", "docker-rules/docker", None, None)),
    ("docker---rules/docker", ("docker.io", "docker---rules/docker", None, None)),
    ("dock__er/docker", ("docker.io", "dock__er/docker", None, None)),
    ("d/docker", ("docker.io", "d/docker", None, None)),
    ("jess/t", ("docker.io", "jess/t", None, None)),
    (f"busybox@{SHA}", ("docker.io", "library/busybox", None, SHA)),
    (f"busybox:1.36@{SHA}", ("docker.io", "library/busybox", "1.36", SHA)),
    (f"{DBCC[:63]}", ("docker.io", f"library/{DBCC[:63]}", None, None)),
    ("dbcc1", ("docker.io", "library/dbcc1", None, None)),
    ("sha256:abc", ("docker.io", "library/sha256", "abc", None)),
    ("a:" + "T" * 128, ("docker.io", "library/a", "T" * 128, None)),
    ("a:_x.y-Z", ("docker.io", "library/a", "_x.y-Z", None)),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[v[0][:60] for v in VALID])
def test_valid(text: str, expected: tuple[str, str, str | None, str | None]) -> None:
    ref = parse_normalized_named(text)
    domain, path, tag, digest = expected
    assert (ref.domain, ref.path, ref.tag) == (domain, path, tag)
    assert ref.digest == (Digest.parse(digest) if digest else None)
    assert ref.name == f"{domain}/{path}"
    # the full form parses back to itself
    assert parse_normalized_named(str(ref)) == ref


BAD = "invalid reference format"
INVALID: list[tuple[str, str]] = [
    ("", BAD),
    (":justtag", BAD),
    (f"@{SHA}", BAD),
    ("repo@sha256:" + "f" * 34, "invalid checksum digest length"),
    (f"validname@invaliddigest:{F64}", "unsupported digest algorithm"),
    ("repo@sha256:" + "F" * 64, "invalid checksum digest format"),
    ("Uppercase:tag", f"{BAD}: repository name (library/Uppercase) must be lowercase"),
    (
        "test:5000/Uppercase/lowercase:tag",
        f"{BAD}: repository name (Uppercase/lowercase) must be lowercase",
    ),
    ("docker/Docker", f"{BAD}: repository name (docker/Docker) must be lowercase"),
    ("docker.io/docker/Docker", f"{BAD}: repository name (docker/Docker) must be lowercase"),
    ("a/" * 128 + "a:tag", "repository name must not be more than 255 characters"),
    ("aa/asdf$$^/aa", BAD),
    ("[2001:db8::1]", BAD),
    ("[2001:db8::1]:5000", BAD),
    ("[2001:db8::1]:tag", BAD),
    ("[fe80::1%eth0]:5000/repo", BAD),
    ("[fe80::1%@invalidzone]:5000/repo", BAD),
    ("[fc00::1]", BAD),
    ("[fc00::1]:5000", BAD),
    ("fc00::1:5000/debian", BAD),
    ("[2001:db8:3:4::192.0.2.33]:5000/debian", BAD),
    ("https://github.com/docker/docker", BAD),
    ("-docker", BAD),
    ("-docker/docker", BAD),
    ("-docker.io/docker/docker", BAD),
    ("docker///docker", BAD),
    ("docker.io/docker///docker", BAD),
    ("docker-/docker", BAD),
    ("-docker-/docker", BAD),
    ("____/____", BAD),
    ("_docker/_docker", BAD),
    ("dock..er/docker", BAD),
    ("dock_.er/docker", BAD),
    ("dock-.er/docker", BAD),
    ("dock___er/docker", BAD),
    ("docker/", BAD),
    ("a:" + "t" * 129, BAD),
    ("a:-tag", BAD),
    ("a:t\u00e9", BAD),  # Go's \w is ASCII
    ("busybox\n", BAD),
    ("busy box", BAD),
    ("this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker", BAD),
    ("abcdefgh" * 32 + "/docker", "repository name must not be more than 255 characters"),
    (HEX64, f"invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings"),
]


@pytest.mark.parametrize(("text", "message"), INVALID, ids=[v[0][:60] for v in INVALID])
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_reference(text)
    assert str(exc.value).startswith(message)
    assert exc.value.kind == "invalid_argument"


# (familiar name, full name, other spellings, domain, path) from TestParseRepositoryInfo
REPOSITORY_INFO = [
    ("fooo/bar", "docker.io/fooo/bar", ["index.docker.io/fooo/bar"], "docker.io", "fooo/bar"),
    ("ubuntu", "docker.io/library/ubuntu", ["library/ubuntu"], "docker.io", "library/ubuntu"),
    ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", [], "docker.io", "nonlibrary/ubuntu"),
    ("other/library", "docker.io/other/library", [], "docker.io", "other/library"),
    (
        "127.0.0.1:8000/private/moonbase",
        "127.0.0.1:8000/private/moonbase",
        [],
        "127.0.0.1:8000",
        "private/moonbase",
    ),
    (
        "127.0.0.1:8000/privatebase",
        "127.0.0.1:8000/privatebase",
        [],
        "127.0.0.1:8000",
        "privatebase",
    ),
    (
        "example.com/private/moonbase",
        "example.com/private/moonbase",
        [],
        "example.com",
        "private/moonbase",
    ),
    (
        "example.com:8000/privatebasee",
        "example.com:8000/privatebasee",
        [],
        "example.com:8000",
        "privatebasee",
    ),
    (
        "ubuntu-12.04-base",
        "docker.io/library/ubuntu-12.04-base",
        ["index.docker.io/library/ubuntu-12.04-base"],
        "docker.io",
        "library/ubuntu-12.04-base",
    ),
    ("foo", "docker.io/library/foo", ["docker.io/foo"], "docker.io", "library/foo"),
    ("library/foo/bar", "docker.io/library/foo/bar", [], "docker.io", "library/foo/bar"),
    ("store/foo/bar", "docker.io/store/foo/bar", [], "docker.io", "store/foo/bar"),
    ("Foo/bar", "Foo/bar", [], "Foo", "bar"),
    ("FOO/bar", "FOO/bar", [], "FOO", "bar"),
]


@pytest.mark.parametrize(
    ("familiar", "full", "others", "domain", "path"),
    REPOSITORY_INFO,
    ids=[r[0] for r in REPOSITORY_INFO],
)
def test_repository_info(
    familiar: str, full: str, others: list[str], domain: str, path: str
) -> None:
    for text in [familiar, full, *others]:
        ref = parse_normalized_named(text)
        assert ref.familiar_name() == familiar
        assert familiar_name(ref.name) == familiar
        assert str(ref) == full
        assert (ref.domain, ref.path) == (domain, path)


def test_default_tag_and_familiar_forms() -> None:
    ref = parse_reference("busybox")
    assert str(ref) == "docker.io/library/busybox:latest"
    assert ref.familiar() == "busybox:latest"
    assert str(parse_reference("user/app")) == "docker.io/user/app:latest"
    assert parse_reference("user/app").familiar() == "user/app:latest"
    assert str(parse_reference("localhost:5000/team/app:v1")) == "localhost:5000/team/app:v1"
    assert str(parse_reference("busybox", default_tag=None)) == "docker.io/library/busybox"
    assert str(parse_reference("busybox", default_tag="1.36")) == "docker.io/library/busybox:1.36"
    # a digest means no default tag (TagNameOnly)
    assert parse_reference(f"busybox@{SHA}").tag is None
    short = f"busybox:latest@{SHA}"
    ref = parse_reference(short)
    assert str(ref) == "docker.io/library/" + short
    assert ref.familiar() == short
    assert str(ref.without_tag()) == f"docker.io/library/busybox@{SHA}"
    assert str(ref.trimmed()) == "docker.io/library/busybox"


def test_familiar_name_function() -> None:
    assert familiar_name("docker.io/library/redis") == "redis"
    assert familiar_name("docker.io/dmcgowan/myapp") == "dmcgowan/myapp"
    assert familiar_name("docker.io/library/foo/bar") == "library/foo/bar"
    assert familiar_name("quay.io/library/redis") == "quay.io/library/redis"


def test_with_tag_and_digest() -> None:
    ref = parse_reference("test.com:8000/foo", default_tag=None)
    assert str(ref.with_tag("TAG5")) == "test.com:8000/foo:TAG5"
    d = Digest.parse(SHA)
    both = ref.with_digest(d).with_tag("TAG5")
    assert str(both) == f"test.com:8000/foo:TAG5@{SHA}"
    assert str(parse_reference("foo").with_tag("tag2")) == "docker.io/library/foo:tag2"
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        ref.with_tag("-foo")
    with pytest.raises(InvalidArgument, match="invalid tag format"):
        ref.with_tag("t" * 129)


def test_reference_is_a_validated_value() -> None:
    a = parse_reference("busybox")
    b = Reference("docker.io", "library/busybox", "latest")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.tag = "x"  # type: ignore[misc]
    with pytest.raises(InvalidArgument):
        Reference("docker.io", "Library/busybox")
    with pytest.raises(InvalidArgument):
        Reference("docker.io", "../../etc")
    with pytest.raises(InvalidArgument):
        Reference("bad host", "x")
    with pytest.raises(InvalidArgument):
        Reference("docker.io", "x", "bad tag")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis", "docker.io/library/redis:latest"),
        ("docker.io/library/redis:latest", "docker.io/library/redis:latest"),
        (f"redis@sha256:{DBCC}", f"docker.io/library/redis@sha256:{DBCC}"),
        ("dmcgowan/myapp", "docker.io/dmcgowan/myapp:latest"),
        (DBCC, f"sha256:{DBCC}"),
        (f"sha256:{DBCC}", f"sha256:{DBCC}"),
        (DBCC[:63], f"docker.io/library/{DBCC[:63]}:latest"),
        ("dbcc1", "docker.io/library/dbcc1:latest"),
    ],
)
def test_parse_any_reference(text: str, expected: str) -> None:
    got = parse_any_reference(text)
    assert str(got) == expected
    assert isinstance(got, Digest) == expected.startswith("sha256:")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DBCC, True),
        (f"sha256:{DBCC}", True),
        (DBCC[:63], False),
        (DBCC + "0", False),
        (DBCC.upper(), False),
        (f"sha512:{DBCC}", False),
        ("busybox", False),
        ("", False),
    ],
)
def test_is_digest_id(text: str, expected: bool) -> None:
    assert is_digest_id(text) is expected


def test_hostile_input_is_fast() -> None:
    import time

    start = time.monotonic()
    for text in ["a" * 20000 + "!", "a-" * 10000 + "!", "a." * 10000 + "/!", "a/" * 10000 + "!"]:
        with pytest.raises(InvalidArgument):
            parse_reference(text)
    assert time.monotonic() - start < 2
