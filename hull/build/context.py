"""The build context: its files, their content hashes, and the tar sent to hulld.

A context is a directory (``.dockerignore`` applied) or a tar stream (``-`` or
the body of ``POST /build``: plain, gzip, bzip2, xz or zstd by magic bytes),
which is unpacked into a work directory, refusing members that would land
outside it (``..``, absolute names, links pointing out, paths through a
symlink).

``ContextIndex`` records for each path: type, mode (permission bits with
setuid/setgid/sticky), uid, gid, size, the sha256 of a regular file's content
and a symlink's target; never the mtime, so touching a file keeps every cache
key.  ``checksum(sources)`` digests exactly what a COPY/ADD reads: each source
(a path or a glob, relative to the context root) and, for a directory, the
directory's own metadata (its mode and owner become the destination's, as in
BuildKit) plus everything below it, minus ``--exclude`` patterns (matched
relative to the source directory).

File hashes are cached in ``<cache_dir>/context-hashes.json`` keyed by
(path, size, mtime_ns, inode, mode) so unchanged files are not read again.
"""

from __future__ import annotations

import bz2
import fnmatch
import hashlib
import io
import json
import lzma
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from hull.archive.compression import decompress_stream
from hull.build.dockerignore import Matcher, walk
from hull.errors import InvalidArgument, NotFound
from hull.oci.digest import Digest

__all__ = ["Context", "ContextIndex", "FileMeta", "HashCache", "diff", "extract_context_tar"]

_TYPES = {stat.S_IFREG: "file", stat.S_IFDIR: "dir", stat.S_IFLNK: "symlink"}


@dataclass(frozen=True)
class FileMeta:
    """What a path contributes to a cache key (no mtime)."""

    path: str
    type: str  # file, dir, symlink, fifo, char, block, socket
    mode: int  # 0o7777 bits
    uid: int
    gid: int
    size: int
    sha256: str = ""
    link: str = ""

    def record(self) -> str:
        """The canonical line hashed into checksums."""
        return (
            f"{self.path}\0{self.type}\0{self.mode:o}\0{self.uid}\0{self.gid}\0"
            f"{self.size}\0{self.sha256}\0{self.link}\n"
        )


class HashCache:
    """File content hashes on disk, keyed by (path, size, mtime_ns, ino, mode)."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.file = cache_dir / "context-hashes.json" if cache_dir else None
        self.entries: dict[str, list[int | str]] = {}
        self.dirty = False
        self.hashed = 0  # files actually read (for tests and stats)
        if self.file is not None:
            try:
                self.entries = json.loads(self.file.read_text())
            except (FileNotFoundError, ValueError):
                self.entries = {}

    def sha256(self, full: str, key: str, st: os.stat_result) -> str:
        """The content hash of a regular file, from the cache when unchanged."""
        sig: list[int | str] = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode]
        hit = self.entries.get(key)
        if hit is not None and hit[:4] == sig:
            return str(hit[4])
        h = hashlib.sha256()
        with open(full, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        self.hashed += 1
        self.entries[key] = [*sig, h.hexdigest()]
        self.dirty = True
        return h.hexdigest()

    def save(self) -> None:
        """Write the cache atomically (no-op without a directory)."""
        if self.file is None or not self.dirty:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "w") as f:
            json.dump(self.entries, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.file)
        self.dirty = False


class ContextIndex:
    """Per-path metadata of a context; ``checksum`` digests what a COPY reads."""

    def __init__(self, entries: dict[str, FileMeta]) -> None:
        self.entries = entries

    @classmethod
    def build(
        cls, root: Path, matcher: Matcher | None, cache: HashCache | None = None
    ) -> ContextIndex:
        """Index every non-ignored path below ``root``."""
        cache = cache or HashCache(None)
        out: dict[str, FileMeta] = {}
        for e in walk(root, matcher):
            st = e.st
            kind = _TYPES.get(stat.S_IFMT(st.st_mode), _other_type(st.st_mode))
            full = os.path.join(root, e.path)
            sha = cache.sha256(full, e.path, st) if kind == "file" else ""
            link = os.readlink(full) if kind == "symlink" else ""
            size = st.st_size if kind == "file" else 0
            out[e.path] = FileMeta(
                e.path, kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size, sha, link
            )
        cache.save()
        return cls(out)

    def select(self, sources: Sequence[str], exclude: Sequence[str] = ()) -> list[FileMeta]:
        """The entries a COPY of ``sources`` reads, sorted by path."""
        excl = Matcher(exclude) if exclude else None
        picked: dict[str, FileMeta] = {}
        for src in sources:
            for r in self.roots(src):
                meta = self.entries.get(r)
                if meta is not None and not (excl and excl.matches(posixpath.basename(r))):
                    picked[r] = meta
                if meta is None or meta.type == "dir":
                    prefix = r + "/" if r else ""
                    for p, m in self.entries.items():
                        keep = excl is None or not excl.matches(p[len(prefix) :])
                        if p.startswith(prefix) and p != r and keep:
                            picked[p] = m
        return [picked[k] for k in sorted(picked)]

    def roots(self, src: str) -> list[str]:
        """The context paths one COPY source (a path or a glob) names, sorted; NotFound if none."""
        pattern = _clean_source(src)
        if pattern == "":
            roots = [""]
        elif any(c in pattern for c in "*?["):
            roots = [p for p in self.entries if _glob_match(pattern, p)]
        else:
            roots = [pattern] if pattern in self.entries else []
        if not roots:
            raise NotFound(f'failed to compute cache key: "/{pattern}": not found')
        return sorted(roots)

    def checksum(self, sources: Sequence[str], exclude: Sequence[str] = ()) -> Digest:
        """The digest of everything a COPY/ADD of ``sources`` reads."""
        h = hashlib.sha256()
        for meta in self.select(sources, exclude):
            h.update(meta.record().encode("utf-8", "surrogateescape"))
        return Digest("sha256", h.hexdigest())


def diff(old: ContextIndex, new: ContextIndex) -> list[str]:
    """Paths added, removed or changed between two indexes (sorted)."""
    keys = set(old.entries) | set(new.entries)
    return sorted(k for k in keys if old.entries.get(k) != new.entries.get(k))


def _other_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block")):
        if test(mode):
            return name
    return "socket"


def _clean_source(src: str) -> str:
    p = posixpath.normpath("/" + src).lstrip("/")
    return "" if p == "." else p


def _glob_match(pattern: str, path: str) -> bool:
    # filepath.Match: wildcards never cross "/"
    pp, sp = pattern.split("/"), path.split("/")
    if len(pp) != len(sp):
        return False
    return all(fnmatch.fnmatchcase(s, p) for p, s in zip(pp, sp, strict=True))


class Context:
    """A build context on disk with its ignore rules and (lazily) its index."""

    def __init__(
        self,
        root: Path,
        *,
        dockerfile: str = "Dockerfile",
        cache_dir: Path | None = None,
        matcher: Matcher | None = None,
    ) -> None:
        self.root = root
        self.dockerfile = dockerfile
        self.matcher = matcher if matcher is not None else Matcher.from_context(root, dockerfile)
        self.cache_dir = cache_dir
        self._index: ContextIndex | None = None

    @classmethod
    def from_dir(
        cls, path: Path, *, dockerfile: str = "Dockerfile", cache_dir: Path | None = None
    ) -> Context:
        """A directory context; raises NotFound when it does not exist."""
        if not path.is_dir():
            raise NotFound(f"unable to prepare context: path {str(path)!r} not found")
        return cls(path, dockerfile=dockerfile, cache_dir=cache_dir)

    @classmethod
    def from_tar(
        cls, stream: BinaryIO, workdir: Path, *, dockerfile: str = "Dockerfile",
        cache_dir: Path | None = None,
    ) -> Context:  # fmt: skip
        """Unpack a (compressed) tar context into ``workdir`` and open it."""
        extract_context_tar(stream, workdir)
        return cls(workdir, dockerfile=dockerfile, cache_dir=cache_dir)

    @property
    def index(self) -> ContextIndex:
        """The per-file index (built once, hashes cached in ``cache_dir``)."""
        if self._index is None:
            self._index = ContextIndex.build(self.root, self.matcher, HashCache(self.cache_dir))
        return self._index

    def refresh(self) -> ContextIndex:
        """Re-read the directory (after it changed) and return the new index."""
        self._index = None
        return self.index

    def checksum(self, sources: Sequence[str], exclude: Sequence[str] = ()) -> Digest:
        """The cache-key digest of a COPY/ADD of ``sources``."""
        return self.index.checksum(sources, exclude)

    def resolve(self, rel: str) -> Path:
        """The host path of a context path; ignored or missing paths are NotFound."""
        p = _clean_source(rel)
        if p and p not in self.index.entries:
            raise NotFound(f'"/{p}": not found')
        return self.root / p if p else self.root

    def open(self, rel: str) -> BinaryIO:
        """Open a regular file of the context for reading (never via a symlink)."""
        full = self.resolve(rel)
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
        return os.fdopen(fd, "rb")

    def send_tar(self, out: BinaryIO) -> None:
        """Stream the filtered context as a reproducible tar (sorted, mtimes kept)."""
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
            for e in walk(self.root, self.matcher):
                full = os.path.join(self.root, e.path)
                ti = tf.gettarinfo(full, arcname=e.path)
                ti.uname = ti.gname = ""
                if ti.isreg():
                    with open(full, "rb") as f:
                        tf.addfile(ti, f)
                else:
                    tf.addfile(ti)


def _open_decompressed(stream: BinaryIO) -> BinaryIO:
    buffered = io.BufferedReader(_Raw(stream))
    peek = buffered.peek(6)[:6]
    if peek.startswith(b"BZh"):
        return cast(BinaryIO, bz2.BZ2File(buffered))
    if peek.startswith(b"\xfd7zXZ\x00"):
        return cast(BinaryIO, lzma.LZMAFile(buffered))
    return decompress_stream(cast(BinaryIO, buffered))


class _Raw(io.RawIOBase):
    """Any readable stream as a raw stream, so it can be buffered and peeked."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.inner.read(len(b))
        b[: len(data)] = data
        return len(data)


def _member_parts(name: str) -> list[str]:
    if name.startswith("/"):
        raise InvalidArgument(f"context tar member {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"context tar member {name!r} escapes the context")
    return parts


def extract_context_tar(stream: BinaryIO, dest: Path) -> None:
    """Unpack a context tar into ``dest``, refusing anything that would escape."""
    dest.mkdir(parents=True, exist_ok=True)
    links: set[str] = set()
    dirs: list[tuple[Path, int, float]] = []
    try:
        tf = tarfile.open(fileobj=_open_decompressed(stream), mode="r|")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidArgument(f"invalid build context: not a tar archive: {exc}") from None
    with tf:
        for m in tf:
            parts = _member_parts(m.name)
            if not parts:
                continue
            rel = "/".join(parts)
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in links:
                    raise InvalidArgument(f"context tar member {m.name!r} goes through a symlink")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if m.isdir():
                target.mkdir(exist_ok=True)
                dirs.append((target, m.mode & 0o7777, m.mtime))
                continue
            elif m.isreg():
                src = tf.extractfile(m)
                assert src is not None
                if target.is_symlink():
                    target.unlink()
                with open(target, "wb") as f:
                    while chunk := src.read(1 << 20):
                        f.write(chunk)
                os.chmod(target, m.mode & 0o7777)
            elif m.issym():
                if target.exists() or target.is_symlink():
                    target.unlink()
                os.symlink(m.linkname, target)
                links.add(rel)
            elif m.islnk():
                lparts = _member_parts(m.linkname)
                src_path = dest / "/".join(lparts)
                if "/".join(lparts) in links or not src_path.is_file():
                    raise InvalidArgument(f"context tar hardlink {m.name!r} has a bad target")
                os.link(src_path, target)
            else:
                continue  # devices and fifos are not part of a usable context
            if not m.issym():
                os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)
    for d, mode, mtime in reversed(dirs):  # after their contents are written
        os.chmod(d, mode)
        os.utime(d, (mtime, mtime))


def iter_paths(index: ContextIndex) -> Iterable[str]:
    """All paths of an index, sorted."""
    return sorted(index.entries)
