"""Chain IDs, keys and the mount option parser."""

import hashlib
import os

import pytest

from hull.errors import InvalidArgument
from hull.oci.digest import Digest
from hull.snapshots import compute_chain_id
from hull.snapshots._local import as_chain_id, check_key
from hull.snapshots._mount import PAGE_SIZE, _compact, parse_options

D1 = Digest("sha256", "a" * 64)
D2 = Digest("sha256", "b" * 64)


def test_chain_id_of_first_layer_is_its_diff_id() -> None:
    assert compute_chain_id(None, D1) == D1


def test_chain_id_follows_the_image_spec() -> None:
    expected = hashlib.sha256(f"sha256:{'a' * 64} sha256:{'b' * 64}".encode()).hexdigest()
    assert compute_chain_id(D1, D2) == Digest("sha256", expected)


def test_chain_id_must_be_sha256() -> None:
    assert as_chain_id(f"sha256:{'c' * 64}") == Digest("sha256", "c" * 64)
    with pytest.raises(InvalidArgument):
        as_chain_id(Digest("sha512", "c" * 128))
    with pytest.raises(InvalidArgument):
        as_chain_id("sha256:../../etc")


@pytest.mark.parametrize("key", ["abc", "0123abcd" * 8, "build-1.step_2"])
def test_good_keys(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "..", "a/b", "-x", ".hidden", "tmp-1", "a:b", "x" * 129])
def test_bad_keys(key: str) -> None:
    with pytest.raises(InvalidArgument):
        check_key(key)


def test_parse_options_splits_flags_and_data() -> None:
    flags, data = parse_options(["rbind", "ro", "nosuid", "index=off", "lowerdir=/a:/b"])
    from hull import linux

    assert flags == linux.MS_BIND | linux.MS_REC | linux.MS_RDONLY | linux.MS_NOSUID
    assert data == "index=off,lowerdir=/a:/b"
    assert parse_options(["ro", "rw"])[0] == 0


def test_short_options_are_not_compacted() -> None:
    data = "index=off,upperdir=/u,lowerdir=/x/l/A:/x/l/B"
    assert _compact(data) == (data, None)


def test_long_lowerdir_is_made_relative_to_its_common_parent() -> None:
    root = "/var/lib/hull/snapshots/overlay/l"
    ids = [f"{i:026d}" for i in range(120)]
    data = "index=off,upperdir=/u,workdir=/w,lowerdir=" + ":".join(f"{root}/{i}" for i in ids)
    assert len(data) >= PAGE_SIZE
    compact, cwd = _compact(data)
    assert cwd == root
    assert compact == "index=off,upperdir=/u,workdir=/w,lowerdir=" + ":".join(ids)
    assert len(compact) < PAGE_SIZE


def test_too_many_layers_even_compacted() -> None:
    data = "lowerdir=" + ":".join(f"/l/{i:040d}" for i in range(200))
    with pytest.raises(InvalidArgument, match="too many layers"):
        _compact(data)


def test_page_size_is_the_kernels() -> None:
    assert os.sysconf("SC_PAGE_SIZE") == PAGE_SIZE
