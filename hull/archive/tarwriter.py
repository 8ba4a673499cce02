"""A tar writer over byte strings: ustar headers, PAX records for what does not fit.

The output is reproducible (the same entries give the same bytes), which
layer digests and the build cache rely on. Names stay ``bytes``; the entry
types and block size are :mod:`hull.archive.tarstream`'s.
"""

from __future__ import annotations

from typing import BinaryIO

from hull.archive.tarstream import BLOCK, PAX_LOCAL, ZERO_BLOCK


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n = len(str(n)) + len(body)
    return str(n).encode() + body


def _fits(value: int, width: int) -> bool:
    return 0 <= value < 1 << (3 * (width - 1))


def header_block(
    name: bytes,
    typ: bytes,
    *,
    mode: int = 0,
    uid: int = 0,
    gid: int = 0,
    size: int = 0,
    mtime: int = 0,
    linkname: bytes = b"",
    devmajor: int = 0,
    devminor: int = 0,
) -> bytes:
    """One ustar header block (fields must fit; see ``TarWriter``)."""
    h = bytearray(BLOCK)
    h[0 : len(name)] = name
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(uid, 8)
    h[116:124] = _octal(gid, 8)
    h[124:136] = _octal(size, 12)
    h[136:148] = _octal(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = typ
    h[157 : 157 + len(linkname)] = linkname
    h[257:263] = b"ustar\x00"
    h[263:265] = b"00"
    h[329:337] = _octal(devmajor, 8)
    h[337:345] = _octal(devminor, 8)
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


class TarWriter:
    """Write ustar headers, with PAX records for what does not fit (reproducibly)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def add(
        self,
        name: bytes,
        typ: bytes,
        *,
        mode: int = 0,
        uid: int = 0,
        gid: int = 0,
        size: int = 0,
        mtime: int = 0,
        linkname: bytes = b"",
        devmajor: int = 0,
        devminor: int = 0,
        xattrs: dict[str, bytes] | None = None,
    ) -> None:
        """Write the header(s) of one entry; its data must follow (``write_data``)."""
        records: list[bytes] = []
        if len(name) > 100:
            records.append(_pax_record(b"path", name))
        if len(linkname) > 100:
            records.append(_pax_record(b"linkpath", linkname))
        if not _fits(uid, 8):
            records.append(_pax_record(b"uid", b"%d" % uid))
        if not _fits(gid, 8):
            records.append(_pax_record(b"gid", b"%d" % gid))
        if not _fits(size, 12):
            records.append(_pax_record(b"size", b"%d" % size))
        if not _fits(mtime, 12):
            records.append(_pax_record(b"mtime", b"%d" % mtime))
        if xattrs:
            for key in sorted(xattrs):
                records.append(
                    _pax_record(
                        b"SCHILY.xattr." + key.encode("utf-8", "surrogateescape"), xattrs[key]
                    )
                )
        needs_binary = False
        for value in (name, linkname):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                needs_binary = True
        if records:
            if needs_binary:
                records.insert(0, _pax_record(b"hdrcharset", b"BINARY"))
            data = b"".join(records)
            dirname, _, base = name.rstrip(b"/").rpartition(b"/")
            pax_name = (dirname + b"/" if dirname else b"") + b"PaxHeaders.0/" + base
            self.out.write(header_block(pax_name[:100], PAX_LOCAL, size=len(data)))
            self.write_data(data)
        self.out.write(
            header_block(
                name[:100],
                typ,
                mode=mode,
                uid=uid if _fits(uid, 8) else 0,
                gid=gid if _fits(gid, 8) else 0,
                size=size if _fits(size, 12) else 0,
                mtime=mtime if _fits(mtime, 12) else 0,
                linkname=linkname[:100],
                devmajor=devmajor,
                devminor=devminor,
            )
        )

    def write_data(self, data: bytes) -> None:
        """Write a whole entry's data with its padding."""
        self.out.write(data)
        self.pad(len(data))

    def pad(self, size: int) -> None:
        """Pad ``size`` bytes of data written to a whole block."""
        rem = size % BLOCK
        if rem:
            self.out.write(bytes(BLOCK - rem))

    def close(self) -> None:
        """Write the end-of-archive blocks."""
        self.out.write(ZERO_BLOCK * 2)


__all__ = ["TarWriter", "header_block"]
