from typing import Final

ACCELERATED: Final[int]

class Sha256:
    size: int
    def __init__(self) -> None: ...
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...

def update_pair(
    a: Sha256,
    data_a: bytes | bytearray | memoryview,
    b: Sha256,
    data_b: bytes | bytearray | memoryview,
    /,
) -> None: ...
