"""Content digests (``sha256:<hex>``) as a validated value type.

A ``Digest`` is checked (algorithm known, hex of the right length and lower
case charset) when it is made, so that any path derived from it later
(``blobs/sha256/<hex>``) can never contain ``/`` or ``..``. Only ``sha256``
and ``sha512`` are accepted, as the OCI image-spec registers.
"""

from __future__ import annotations

import hashlib

from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# algorithm -> hex length
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}
_HEXCHARS = frozenset("0123456789abcdef")


class Digest:
    """An immutable, validated ``<algorithm>:<hex>`` digest."""

    __slots__ = ("_algorithm", "_hex")

    _algorithm: str
    _hex: str

    def __init__(self, algorithm: str, hex: str) -> None:
        length = ALGORITHMS.get(algorithm)
        if length is None:
            raise InvalidArgument(
                f"invalid digest '{algorithm}:{hex}': unsupported algorithm '{algorithm}'"
                " (expected sha256 or sha512)"
            )
        if len(hex) != length or not _HEXCHARS.issuperset(hex):
            raise InvalidArgument(
                f"invalid digest '{algorithm}:{hex}': expected {length} lower-case hex digits"
            )
        object.__setattr__(self, "_algorithm", algorithm)
        object.__setattr__(self, "_hex", hex)

    @classmethod
    def parse(cls, value: str) -> Digest:
        """Parse ``"sha256:<hex>"``; raise InvalidArgument naming the string."""
        if not isinstance(value, str):
            raise InvalidArgument(f"invalid digest {value!r}: expected a string")
        algorithm, sep, hex = value.partition(":")
        if not sep:
            raise InvalidArgument(f"invalid digest '{value}': expected '<algorithm>:<hex>'")
        return cls(algorithm, hex)

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @property
    def hex(self) -> str:
        return self._hex

    def __str__(self) -> str:
        return f"{self._algorithm}:{self._hex}"

    def __repr__(self) -> str:
        return f"Digest('{self}')"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Digest):
            return NotImplemented
        return self._algorithm == other._algorithm and self._hex == other._hex

    def __hash__(self) -> int:
        return hash((self._algorithm, self._hex))

    def __lt__(self, other: Digest) -> bool:
        return (self._algorithm, self._hex) < (other._algorithm, other._hex)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Digest is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Digest, (self._algorithm, self._hex))


class Digester:
    """Streaming digest: ``update()`` chunks, then ``digest()``."""

    __slots__ = ("_h", "algorithm", "size")

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in ALGORITHMS:
            raise InvalidArgument(f"unsupported digest algorithm '{algorithm}'")
        self.algorithm = algorithm
        self._h = hashlib.new(algorithm)
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed the next chunk."""
        self._h.update(data)
        self.size += len(data)

    def digest(self) -> Digest:
        """The digest of everything fed so far."""
        return Digest(self.algorithm, self._h.hexdigest())


def digest_bytes(data: bytes | bytearray | memoryview, algorithm: str = "sha256") -> Digest:
    """The digest of ``data``."""
    d = Digester(algorithm)
    d.update(data)
    return d.digest()


__all__ = ["ALGORITHMS", "Digest", "Digester", "digest_bytes"]
