import hashlib
import pickle

import pytest

from hull.errors import InvalidArgument
from hull.oci.digest import Digest, Digester, digest_bytes

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_parse_and_str_round_trip() -> None:
    d = Digest.parse(EMPTY)
    assert str(d) == EMPTY
    assert d.algorithm == "sha256"
    assert d.hex == EMPTY[7:]
    assert repr(d) == f"Digest('{EMPTY}')"


def test_equality_and_hash() -> None:
    a = Digest.parse(EMPTY)
    b = Digest("sha256", EMPTY[7:])
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != digest_bytes(b"x")
    assert a != EMPTY  # a string is not a Digest


def test_sha512() -> None:
    h = hashlib.sha512(b"abc").hexdigest()
    d = Digest.parse(f"sha512:{h}")
    assert d.algorithm == "sha512"
    assert digest_bytes(b"abc", "sha512") == d


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256",
        "sha256:",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:" + "E" * 64,  # upper case
        "sha256:" + "e" * 63,
        "sha256:" + "e" * 65,
        "sha256:../../../../etc/passwd" + "0" * 38,
        "sha256:" + "g" * 64,
        "sha256:" + "e" * 62 + "/x",
        "sha512:" + "e" * 64,
        "SHA256:" + "e" * 64,
    ],
)
def test_invalid_digests_name_the_string(bad: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        Digest.parse(bad)
    assert bad in str(info.value) or bad.partition(":")[0] in str(info.value)


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        Digest.parse(42)  # type: ignore[arg-type]


def test_immutable_and_picklable() -> None:
    d = Digest.parse(EMPTY)
    with pytest.raises(AttributeError):
        d._hex = "x"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(d)) == d


def test_digest_bytes_known_value() -> None:
    assert str(digest_bytes(b"")) == EMPTY


def test_streaming_digester_matches() -> None:
    data = bytes(range(256)) * 1000
    dg = Digester()
    for i in range(0, len(data), 777):
        dg.update(memoryview(data)[i : i + 777])
    assert dg.size == len(data)
    assert dg.digest() == digest_bytes(data)


def test_digester_unknown_algorithm() -> None:
    with pytest.raises(InvalidArgument):
        Digester("md5")


def test_ordering_sorts_by_hex() -> None:
    a, b = digest_bytes(b"a"), digest_bytes(b"b")
    assert sorted([a, b]) == sorted([b, a])
