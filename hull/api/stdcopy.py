"""Docker's multiplexed stream framing (attach, logs, exec without a TTY).

Each frame is an 8-byte header then the payload::

    [stream type: 1 byte][0 0 0][payload length: uint32 big-endian][payload]

stream types: 0 stdin, 1 stdout, 2 stderr; 3 "systemerr" carries an error
message from the daemon. Pure functions, no I/O: the client imports this
module too (it imports nothing of hull).
"""

from __future__ import annotations

import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

STDIN = 0
STDOUT = 1
STDERR = 2
SYSTEMERR = 3

HEADER = struct.Struct(">BxxxL")
HEADER_SIZE = HEADER.size  # 8
MAX_FRAME = 0xFFFFFFFF


def frame(stream: int, data: bytes) -> bytes:
    """One frame; payloads larger than 4 GiB - 1 must be split by the caller."""
    if not 0 <= stream <= SYSTEMERR:
        raise ValueError(f"invalid stream type {stream}")
    if len(data) > MAX_FRAME:
        raise ValueError("frame payload too large")
    return HEADER.pack(stream, len(data)) + data


def parse_header(header: bytes) -> tuple[int, int]:
    """(stream type, payload length) of an 8-byte header."""
    if len(header) != HEADER_SIZE:
        raise ValueError("short frame header")
    stream, length = HEADER.unpack(header)
    if stream > SYSTEMERR:
        raise ValueError(f"invalid stream type {stream} in frame header")
    return stream, length


class Demuxer:
    """Incremental decoder: feed bytes, get back (stream, payload) frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        self._buf += data
        while len(self._buf) >= HEADER_SIZE:
            stream, length = parse_header(bytes(self._buf[:HEADER_SIZE]))
            end = HEADER_SIZE + length
            if len(self._buf) < end:
                break
            payload = bytes(self._buf[HEADER_SIZE:end])
            del self._buf[:end]
            yield stream, payload

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)


__all__ = [
    "HEADER_SIZE",
    "STDERR",
    "STDIN",
    "STDOUT",
    "SYSTEMERR",
    "Demuxer",
    "frame",
    "parse_header",
]
