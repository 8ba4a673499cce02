"""A streaming tar reader over byte strings, built for speed and rigour.

:mod:`tarfile` decodes names to ``str``, loses binary xattr values and, in
stream mode, copies its buffer on every header read; layer unpacking reads
hundreds of thousands of headers, so this module parses them itself:
ustar, GNU (long names, old sparse ``S``) and PAX (``path``, ``linkpath``,
``size``, ids, sub-second times, ``SCHILY.xattr.*``, GNU sparse 0.0, 0.1
and 1.0). Names stay ``bytes`` end to end. A malformed archive raises
``InvalidArgument`` naming the entry (or the header offset). The writer is
:mod:`hull.archive.tarwriter`.

``ChunkSource`` feeds the reader from a (decompressing) stream, optionally
read in a background thread so that decompression overlaps with writing.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import TYPE_CHECKING, BinaryIO

from hull.errors import InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Iterator

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
CHUNK = 1 << 20

# Type flags
REG = b"0"
AREG = b"\0"
LNK = b"1"
SYM = b"2"
CHR = b"3"
BLK = b"4"
DIR = b"5"
FIFO = b"6"
CONT = b"7"
PAX_LOCAL = b"x"
PAX_GLOBAL = b"g"
GNU_LONGNAME = b"L"
GNU_LONGLINK = b"K"
GNU_SPARSE = b"S"
GNU_VOLHDR = b"V"


def entry_label(name: bytes) -> str:
    """An entry name as shown in messages."""
    return name.decode("utf-8", "backslashreplace")


class ChunkSource:
    """Byte access to a stream in large chunks; optionally read by a thread.

    The thread only calls ``stream.read`` (a decompressor releasing the GIL
    while it works) and hands chunks over a bounded queue; an error in it is
    re-raised in the consumer.
    """

    def __init__(self, stream: BinaryIO, *, threaded: bool = True, chunk: int = CHUNK) -> None:
        self._stream = stream
        self._chunk = chunk
        self._buf = b""
        self._view = memoryview(self._buf)
        self._pos = 0
        self._eof = False
        self.consumed = 0  # bytes handed out so far (for error offsets)
        self._thread: threading.Thread | None = None
        if threaded:
            self._q: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=4)
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._produce, name="hull-archive-reader", daemon=True
            )
            self._thread.start()

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._stream.read(self._chunk)
                self._put(data)
                if not data:
                    return
        except BaseException as exc:
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _refill(self) -> bool:
        if self._eof:
            return False
        if self._thread is not None:
            item = self._q.get()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            data = item
        else:
            data = self._stream.read(self._chunk)
        if not data:
            self._eof = True
            return False
        self._buf = data
        self._view = memoryview(data)
        self._pos = 0
        return True

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the stream)."""
        pos = self._pos
        end = pos + n
        if end <= len(self._buf):
            self._pos = end
            self.consumed += n
            return self._buf[pos:end]
        parts = [self._buf[pos:]]
        got = len(parts[0])
        self._pos = len(self._buf)
        while got < n and self._refill():
            take = min(n - got, len(self._buf))
            parts.append(self._buf[:take])
            self._pos = take
            got += take
        self.consumed += got
        return b"".join(parts)

    def copy_to(self, fd: int, n: int) -> int:
        """Write the next ``n`` bytes to ``fd``; returns how many were available."""
        done = 0
        while done < n:
            if self._pos >= len(self._buf) and not self._refill():
                break
            take = min(n - done, len(self._buf) - self._pos)
            view = self._view[self._pos : self._pos + take]
            written = os.write(fd, view)
            while written < take:
                written += os.write(fd, view[written:])
            self._pos += take
            done += take
        self.consumed += done
        return done

    def skip(self, n: int) -> int:
        """Discard the next ``n`` bytes; returns how many were available."""
        done = 0
        while done < n:
            if self._pos >= len(self._buf) and not self._refill():
                break
            take = min(n - done, len(self._buf) - self._pos)
            self._pos += take
            done += take
        self.consumed += done
        return done

    def drain(self) -> None:
        """Read to the end (so that the codec checks its trailer)."""
        self._pos = len(self._buf)
        while self._refill():
            self._pos = len(self._buf)

    def close(self) -> None:
        """Stop the reader thread."""
        if self._thread is not None:
            self._stop.set()
            while True:
                try:
                    self._q.get_nowait()
                except queue.Empty:
                    break
            self._thread.join(timeout=5)
            self._thread = None


class TarEntry:
    """One member: header fields with PAX/GNU extensions applied."""

    __slots__ = (
        "atime_ns",
        "devmajor",
        "devminor",
        "gid",
        "linkname",
        "mode",
        "mtime_ns",
        "name",
        "realsize",
        "size",
        "sparse",
        "type",
        "uid",
        "xattrs",
    )

    def __init__(self) -> None:
        self.name = b""
        self.type = REG
        self.mode = 0
        self.uid = 0
        self.gid = 0
        self.size = 0  # bytes of data in the archive
        self.mtime_ns = 0
        self.atime_ns: int | None = None
        self.linkname = b""
        self.devmajor = 0
        self.devminor = 0
        self.xattrs: dict[str, bytes] = {}
        self.sparse: list[tuple[int, int]] | None = None  # (offset, length) data runs
        self.realsize = 0  # apparent size of a sparse file

    @property
    def label(self) -> str:
        return entry_label(self.name)

    def __repr__(self) -> str:
        return f"TarEntry({self.label!r}, type={self.type!r}, size={self.size})"


def _num(field: bytes, what: str) -> int:
    if field and field[0] & 0x80:
        # base-256 (GNU): big-endian two's complement, marker bit removed
        value = int.from_bytes(field, "big", signed=False)
        if field[0] & 0x40:
            return value - (1 << (8 * len(field)))
        return value & ((1 << (8 * len(field) - 1)) - 1)
    field = field.split(b"\0", 1)[0].strip(b" ")
    if not field:
        return 0
    try:
        return int(field, 8)
    except ValueError:
        raise InvalidArgument(f"invalid {what} field {field!r} in tar header") from None


def _nts(field: bytes) -> bytes:
    i = field.find(b"\0")
    return field if i < 0 else field[:i]


def _time_ns(value: bytes, what: str) -> int:
    text = value.decode("ascii", "replace").strip()
    neg = text.startswith("-")
    if neg:
        text = text[1:]
    whole, _, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise InvalidArgument(f"invalid PAX {what} {value!r}")
    ns = int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])
    return -ns if neg else ns


def _int(value: bytes, what: str) -> int:
    if not value.isdigit():
        raise InvalidArgument(f"invalid PAX {what} {value[:40]!r}")
    return int(value)


def _pax_records(data: bytes) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos] == 0:
            break  # NUL padding
        sp = data.find(b" ", pos, pos + 24)
        if sp < 0:
            raise InvalidArgument("malformed PAX header: missing record length")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise InvalidArgument("malformed PAX header: bad record length") from None
        end = pos + length
        if length <= sp - pos + 1 or end > n or data[end - 1] != 0x0A:
            raise InvalidArgument("malformed PAX header: bad record")
        key, eq, value = data[sp + 1 : end - 1].partition(b"=")
        if not eq:
            raise InvalidArgument("malformed PAX header: record without '='")
        out.append((key.decode("utf-8", "surrogateescape"), value))
        pos = end
    return out


class TarReader:
    """Iterate the entries of a tar stream; read each entry's data before the next."""

    def __init__(self, src: ChunkSource, *, max_header_bytes: int = 1 << 20) -> None:
        self.src = src
        self.max_header_bytes = max_header_bytes
        self._remaining = 0  # data bytes of the current entry not yet read
        self._padding = 0
        self._global: dict[str, bytes] = {}
        self._current = b""

    # -- data of the current entry -------------------------------------------------

    def copy_data(self, fd: int, n: int) -> None:
        """Write the next ``n`` data bytes of the current entry to ``fd``."""
        if n > self._remaining:
            raise InvalidArgument(f"layer entry '{entry_label(self._current)}': data overrun")
        got = self.src.copy_to(fd, n)
        self._remaining -= got
        if got < n:
            raise self._truncated()

    def read_data(self, n: int) -> bytes:
        """The next ``n`` data bytes of the current entry."""
        if n > self._remaining:
            raise InvalidArgument(f"layer entry '{entry_label(self._current)}': data overrun")
        data = self.src.read(n)
        self._remaining -= len(data)
        if len(data) < n:
            raise self._truncated()
        return data

    def _truncated(self) -> InvalidArgument:
        return InvalidArgument(
            f"layer entry '{entry_label(self._current)}': tar stream is truncated"
        )

    def _skip_rest(self) -> None:
        n = self._remaining + self._padding
        if n:
            got = self.src.skip(n)
            self._remaining = self._padding = 0
            if got < n:
                raise self._truncated()

    # -- headers -------------------------------------------------------------------

    def _read_ext(self, size: int, kind: str) -> bytes:
        if size > self.max_header_bytes:
            raise InvalidArgument(
                f"tar {kind} header of {size} bytes exceeds the limit of {self.max_header_bytes}"
            )
        padded = (size + BLOCK - 1) // BLOCK * BLOCK
        data = self.src.read(padded)
        if len(data) < padded:
            raise InvalidArgument(f"tar stream is truncated inside a {kind} header")
        return data[:size]

    def __iter__(self) -> Iterator[TarEntry]:
        while (entry := self.next()) is not None:
            yield entry

    def next(self) -> TarEntry | None:
        """The next entry, or None at the end of the archive."""
        self._skip_rest()
        pax: dict[str, bytes] = {}
        sparse00: list[int] = []
        longname: bytes | None = None
        longlink: bytes | None = None
        while True:
            offset = self.src.consumed
            hdr = self.src.read(BLOCK)
            if not hdr:
                if pax or longname is not None or longlink is not None:
                    raise InvalidArgument("tar stream is truncated after an extended header")
                return None  # EOF without the end-of-archive blocks: accepted
            if len(hdr) < BLOCK:
                raise InvalidArgument(f"tar stream is truncated inside a header at {offset}")
            if hdr == ZERO_BLOCK:
                return None
            chksum = _num(hdr[148:156], "checksum")
            unsigned = sum(hdr) - sum(hdr[148:156]) + 256
            if chksum != unsigned:
                signed = unsigned - 2 * sum(b for b in hdr if b > 127)
                signed += 2 * sum(b for b in hdr[148:156] if b > 127)
                if chksum != signed:
                    raise InvalidArgument(f"invalid tar header checksum at offset {offset}")
            typ = hdr[156:157]
            size = _num(hdr[124:136], "size")
            if size < 0:
                raise InvalidArgument(f"negative size in tar header at offset {offset}")
            if typ in (PAX_LOCAL, PAX_GLOBAL):
                records = _pax_records(self._read_ext(size, "PAX"))
                target = pax if typ == PAX_LOCAL else self._global
                for key, value in records:
                    if key == "GNU.sparse.offset" or key == "GNU.sparse.numbytes":
                        sparse00.append(_int(value, key))
                    target[key] = value
                continue
            if typ == GNU_LONGNAME:
                longname = _nts(self._read_ext(size, "GNU long name"))
                continue
            if typ == GNU_LONGLINK:
                longlink = _nts(self._read_ext(size, "GNU long link"))
                continue
            return self._entry(hdr, typ, size, pax, sparse00, longname, longlink)

    def _entry(
        self,
        hdr: bytes,
        typ: bytes,
        size: int,
        pax: dict[str, bytes],
        sparse00: list[int],
        longname: bytes | None,
        longlink: bytes | None,
    ) -> TarEntry:
        e = TarEntry()
        magic = hdr[257:263]
        name = _nts(hdr[0:100])
        if magic == b"ustar\x00":  # POSIX ustar: the prefix field extends the name
            prefix = _nts(hdr[345:500])
            if prefix:
                name = prefix + b"/" + name
        e.mode = _num(hdr[100:108], "mode")
        e.uid = _num(hdr[108:116], "uid")
        e.gid = _num(hdr[116:124], "gid")
        e.mtime_ns = _num(hdr[136:148], "mtime") * 1_000_000_000
        e.linkname = _nts(hdr[157:257])
        e.devmajor = _num(hdr[329:337], "devmajor")
        e.devminor = _num(hdr[337:345], "devminor")
        if typ == AREG and name.endswith(b"/"):
            typ = DIR
        e.type = REG if typ in (AREG, CONT) else typ
        if longname is not None:
            name = longname
        if longlink is not None:
            e.linkname = longlink
        ext = {**self._global, **pax} if self._global else pax
        if ext:
            self._apply_pax(e, ext, sparse00)
            if ext.get("path"):
                name = ext["path"]
            if ext.get("size"):
                size = _int(ext["size"], "size")
        e.name = name
        self._current = name
        e.size = size
        if typ == GNU_SPARSE:
            e.type = REG
            self._old_gnu_sparse(e, hdr)
        if e.type in (LNK, SYM, CHR, BLK, DIR, FIFO):
            size = 0  # hard links etc. carry no data whatever the size field says
        self._remaining = size
        self._padding = (BLOCK - size % BLOCK) % BLOCK
        if ext and "GNU.sparse.major" in ext and ext["GNU.sparse.major"] == b"1":
            self._sparse_map_10(e)
        return e

    def _apply_pax(self, e: TarEntry, ext: dict[str, bytes], sparse00: list[int]) -> None:
        for key, value in ext.items():
            if not value:
                continue
            if key.startswith("SCHILY.xattr."):
                e.xattrs[key[13:]] = value
            elif key == "linkpath":
                e.linkname = value
            elif key == "uid":
                e.uid = _int(value, key)
            elif key == "gid":
                e.gid = _int(value, key)
            elif key == "mtime":
                e.mtime_ns = _time_ns(value, "mtime")
            elif key == "atime":
                e.atime_ns = _time_ns(value, "atime")
            elif key == "SCHILY.devmajor":
                e.devmajor = _int(value, key)
            elif key == "SCHILY.devminor":
                e.devminor = _int(value, key)
        realsize = ext.get("GNU.sparse.realsize") or ext.get("GNU.sparse.size")
        if "GNU.sparse.name" in ext:
            ext["path"] = ext["GNU.sparse.name"]
        if realsize is not None:
            e.realsize = _int(realsize, "GNU.sparse.realsize")
            if "GNU.sparse.map" in ext:  # format 0.1
                nums = [_int(x, "GNU.sparse.map") for x in ext["GNU.sparse.map"].split(b",") if x]
                e.sparse = self._pairs(nums)
            elif sparse00:  # format 0.0
                e.sparse = self._pairs(sparse00)
            elif ext.get("GNU.sparse.major") != b"1":
                e.sparse = []

    @staticmethod
    def _pairs(nums: list[int]) -> list[tuple[int, int]]:
        if len(nums) % 2:
            raise InvalidArgument("malformed GNU sparse map: odd number of values")
        return [(nums[i], nums[i + 1]) for i in range(0, len(nums), 2)]

    def _old_gnu_sparse(self, e: TarEntry, hdr: bytes) -> None:
        nums: list[int] = []

        def structs(block: bytes, start: int, count: int) -> None:
            for i in range(count):
                off = start + 24 * i
                if block[off] == 0:
                    return
                nums.append(_num(block[off : off + 12], "sparse offset"))
                nums.append(_num(block[off + 12 : off + 24], "sparse numbytes"))

        structs(hdr, 386, 4)
        extended = hdr[482]
        e.realsize = _num(hdr[483:495], "sparse realsize")
        while extended:
            block = self.src.read(BLOCK)
            if len(block) < BLOCK:
                raise self._truncated()
            structs(block, 0, 21)
            extended = block[504]
        e.sparse = self._pairs(nums)

    def _sparse_map_10(self, e: TarEntry) -> None:
        # GNU sparse 1.0: the map is at the start of the data, in decimal
        # lines, padded to a block. It counts in the entry's size.
        buf = b""
        consumed = 0
        lines: list[bytes] = []
        count = -1
        while count < 0 or len(lines) < 1 + 2 * count:
            if b"\n" not in buf:
                if consumed + BLOCK > self.max_header_bytes or self._remaining < BLOCK:
                    raise InvalidArgument(f"layer entry '{e.label}': malformed GNU sparse map")
                buf += self.read_data(BLOCK)
                consumed += BLOCK
                continue
            line, buf = buf.split(b"\n", 1)
            if not line.isdigit():
                raise InvalidArgument(f"layer entry '{e.label}': malformed GNU sparse map")
            lines.append(line)
            if count < 0:
                count = int(line)
        nums = [int(x) for x in lines[1:]]
        e.sparse = self._pairs(nums)
        e.size -= consumed


__all__ = [
    "BLK",
    "BLOCK",
    "CHR",
    "DIR",
    "FIFO",
    "LNK",
    "REG",
    "SYM",
    "ChunkSource",
    "TarEntry",
    "TarReader",
    "entry_label",
]
