"""SHA-256 with the CPU's SHA extensions, two streams at once, checked against hashlib."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
from typing import Any

import pytest
import zstandard

from hull.archive.compression import decompress_stream
from hull.content import hashing
from hull.content.hashing import PairHasher
from hull.errors import InvalidArgument
from hull.images.streams import LayerDecoder

try:
    from hull.content import _sha256
except ImportError:  # pragma: no cover - every build has it
    _sha256 = None  # type: ignore[assignment]

needs_shani = pytest.mark.skipif(
    _sha256 is None or not _sha256.ACCELERATED, reason="this CPU has no SHA extensions"
)

# FIPS 180-4 examples, plus lengths on each side of the padding's boundaries
VECTORS = [
    b"",
    b"abc",
    b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    *(bytes(range(256))[:n] for n in (55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129)),
]


@needs_shani
@pytest.mark.parametrize("data", VECTORS, ids=lambda d: f"{len(d)}B")
def test_known_answers(data: bytes) -> None:
    h = _sha256.Sha256()
    h.update(data)
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    assert h.digest() == hashlib.sha256(data).digest()
    assert h.size == len(data)


@needs_shani
def test_digest_does_not_end_the_stream() -> None:
    h = _sha256.Sha256()
    h.update(b"hello ")
    assert h.hexdigest() == hashlib.sha256(b"hello ").hexdigest()
    h.update(b"world")
    assert h.hexdigest() == hashlib.sha256(b"hello world").hexdigest()


@needs_shani
def test_pairs_of_any_lengths_match_hashlib() -> None:
    # the lockstep path, the partial blocks on either side and the leftovers
    rnd = random.Random(7)
    sizes = [0, 1, 63, 64, 65, 127, 128, 4095, 8192, 70000]
    for _ in range(400):
        a, b = _sha256.Sha256(), _sha256.Sha256()
        ha, hb = hashlib.sha256(), hashlib.sha256()
        for _ in range(rnd.randint(1, 5)):
            da = rnd.randbytes(rnd.choice(sizes) + rnd.randint(0, 2))
            db = rnd.randbytes(rnd.choice(sizes) + rnd.randint(0, 2))
            if rnd.random() < 0.7:
                _sha256.update_pair(a, da, b, memoryview(db))
            else:
                a.update(bytearray(da))
                b.update(db)
            ha.update(da)
            hb.update(db)
        assert (a.hexdigest(), b.hexdigest()) == (ha.hexdigest(), hb.hexdigest())


@needs_shani
def test_large_buffers_release_the_gil_and_still_match() -> None:
    big_a, big_b = os.urandom(3 << 20), os.urandom((3 << 20) + 17)
    a, b = _sha256.Sha256(), _sha256.Sha256()
    _sha256.update_pair(a, big_a, b, big_b)
    assert a.hexdigest() == hashlib.sha256(big_a).hexdigest()
    assert b.hexdigest() == hashlib.sha256(big_b).hexdigest()


@needs_shani
def test_one_object_twice_is_refused() -> None:
    h = _sha256.Sha256()
    with pytest.raises(ValueError, match="two different"):
        _sha256.update_pair(h, b"x", h, b"y")
    with pytest.raises(TypeError):
        _sha256.update_pair(h, "text", _sha256.Sha256(), b"y")  # type: ignore[arg-type]


@pytest.mark.parametrize("paired", [True, False], ids=["sha-extensions", "hashlib"])
def test_pair_hasher_both_ways(monkeypatch: pytest.MonkeyPatch, paired: bool) -> None:
    if paired and not hashing._PAIRED:
        pytest.skip("this CPU has no SHA extensions")
    monkeypatch.setattr(hashing, "_PAIRED", paired)
    p = PairHasher()
    p.update(b"blob-", b"tar-")
    p.update_a(b"more blob")
    p.update_b(memoryview(b"more tar"))
    assert str(p.digest_a()) == f"sha256:{hashlib.sha256(b'blob-more blob').hexdigest()}"
    assert str(p.digest_b()) == f"sha256:{hashlib.sha256(b'tar-more tar').hexdigest()}"


# -- LayerDecoder: a blob's digest and its tar's, in one pass ----------------------------------


def _decode(blob: bytes, compression: Any, read: int = 1 << 20) -> tuple[LayerDecoder, bytes]:
    dec = LayerDecoder(io.BytesIO(blob), compression)
    out = bytearray()
    while chunk := dec.read(read):
        out += chunk
    dec.finish()
    return dec, bytes(out)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_decoder_hashes_blob_and_tar(compression: str) -> None:
    tar = os.urandom(3 << 20) + b"\0" * (2 << 20)  # incompressible, then very compressible
    blob = {
        "gzip": lambda: gzip.compress(tar, 6),
        "zstd": lambda: zstandard.ZstdCompressor().compress(tar),
        "none": lambda: tar,
    }[compression]()
    for read in (1 << 20, 4096):
        dec, out = _decode(blob, compression, read)
        assert out == tar
        assert str(dec.blob_digest()) == _sha(blob) and dec.blob_size == len(blob)
        digest, size = dec.diff_digest()
        assert str(digest) == _sha(tar) and size == len(tar) == dec.diff_size


def test_decoder_counts_bytes_after_the_compressed_stream() -> None:
    # a blob's digest covers all its bytes, also what follows the gzip member
    tar = b"layer" * 1000
    blob = gzip.compress(tar) + b"\0" * 512
    dec, out = _decode(blob, "gzip")
    assert out == tar
    assert str(dec.blob_digest()) == _sha(blob)
    assert str(dec.diff_digest()[0]) == _sha(tar)


def test_decoder_with_multi_member_gzip_and_a_tiny_output() -> None:
    # many members that inflate to almost nothing: compressed bytes held for
    # pairing are hashed alone past a bound, in order
    members = [gzip.compress(os.urandom(300_000), 0) for _ in range(40)] + [gzip.compress(b"x")]
    blob = b"".join(members)
    expected = gzip.decompress(blob)
    dec, out = _decode(blob, "gzip")
    assert out == expected
    assert str(dec.blob_digest()) == _sha(blob)
    assert str(dec.diff_digest()[0]) == _sha(expected)


def test_decoder_keeps_the_codecs_errors() -> None:
    blob = gzip.compress(b"tar bytes" * 100)
    corrupt = blob[:-8] + bytes(8)  # CRC and length zeroed
    with pytest.raises(InvalidArgument, match="gzip"):
        _decode(corrupt, "gzip")
    with pytest.raises(InvalidArgument, match="truncated"):
        _decode(blob[: len(blob) // 2], "gzip")
    # the same messages as the plain codec gives
    with pytest.raises(InvalidArgument, match="gzip"):
        decompress_stream(io.BytesIO(corrupt), "gzip").read()
