import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest
import zstandard

from hull.archive import apply_layer, compress_stream, decompress_stream, detect_compression
from hull.errors import InvalidArgument

PAYLOAD = os.urandom(200_000) + b"compressible " * 50_000


def _read_all(stream: io.RawIOBase | io.BufferedIOBase | object) -> bytes:
    out = []
    while chunk := stream.read(65536):  # type: ignore[attr-defined]
        out.append(chunk)
    return b"".join(out)


def test_detect_by_magic() -> None:
    assert detect_compression(gzip.compress(b"x")) == "gzip"
    assert detect_compression(zstandard.ZstdCompressor().compress(b"x")) == "zstd"
    assert detect_compression(b"ustar or whatever") == "none"
    assert detect_compression(b"") == "none"


@pytest.mark.parametrize("kind", ["gzip", "zstd", "none"])
def test_round_trip(kind: str) -> None:
    buf = io.BytesIO()
    w = compress_stream(buf, kind)  # type: ignore[arg-type]
    for i in range(0, len(PAYLOAD), 100_000):
        w.write(PAYLOAD[i : i + 100_000])
    if kind != "none":
        w.close()
    assert not buf.closed
    raw = buf.getvalue()
    assert detect_compression(raw[:8]) == kind
    assert _read_all(decompress_stream(io.BytesIO(raw))) == PAYLOAD


def test_gzip_is_reproducible() -> None:
    outs = []
    for _ in range(2):
        buf = io.BytesIO()
        w = compress_stream(buf, "gzip")
        w.write(PAYLOAD)
        w.close()
        outs.append(buf.getvalue())
    assert outs[0] == outs[1]


def test_multi_member_gzip_and_multi_frame_zstd() -> None:
    g = gzip.compress(b"one ") + gzip.compress(b"two")
    assert _read_all(decompress_stream(io.BytesIO(g))) == b"one two"
    c = zstandard.ZstdCompressor()
    z = c.compress(b"one ") + c.compress(b"two")
    assert _read_all(decompress_stream(io.BytesIO(z))) == b"one two"


def _gz() -> bytes:
    return gzip.compress(PAYLOAD)


def _zst() -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(PAYLOAD)


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(lambda: _gz()[: len(_gz()) // 2], id="gzip-truncated-half"),
        pytest.param(lambda: _gz()[:-4], id="gzip-truncated-trailer"),
        pytest.param(
            lambda: _gz()[:5000] + bytes(b ^ 0xFF for b in _gz()[5000:5100]) + _gz()[5100:],
            id="gzip-corrupt",
        ),
        pytest.param(lambda: _gz()[:-8] + b"\0\0\0\0" + _gz()[-4:], id="gzip-bad-crc"),
        pytest.param(lambda: _zst()[: len(_zst()) // 2], id="zstd-truncated-half"),
        pytest.param(lambda: _zst()[:-3], id="zstd-truncated-end"),
        pytest.param(lambda: _zst()[:-4] + b"\0\0\0\0", id="zstd-bad-checksum"),
        pytest.param(lambda: _zst()[:20] + b"\xff" * 50 + _zst()[70:], id="zstd-corrupt-header"),
    ],
)
def test_truncated_or_corrupt_raise_invalid_argument(blob) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument):
        _read_all(decompress_stream(io.BytesIO(blob())))


def _layer_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for i in range(20):
            data = os.urandom(30_000)
            ti = tarfile.TarInfo(f"f{i}")
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
@pytest.mark.parametrize("cut", ["half", "trailer"])
def test_apply_layer_refuses_truncated_stream(tmp_path: Path, kind: str, cut: str) -> None:
    raw = _layer_tar()
    if kind == "gzip":
        blob = gzip.compress(raw)
    else:
        blob = zstandard.ZstdCompressor(write_checksum=True).compress(raw)
    blob = blob[: len(blob) // 2] if cut == "half" else blob[:-3]
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(InvalidArgument):
        apply_layer(io.BytesIO(blob), dest)


def test_apply_layer_refuses_corrupt_gzip(tmp_path: Path) -> None:
    blob = bytearray(gzip.compress(_layer_tar(), compresslevel=1))
    for i in range(len(blob) // 2, len(blob) // 2 + 64):
        blob[i] ^= 0x55
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(InvalidArgument):
        apply_layer(io.BytesIO(bytes(blob)), dest)
