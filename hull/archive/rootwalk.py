"""Walking a layer's destination one component at a time, never leaving it.

:class:`Tree` hands :mod:`hull.archive.apply` the directory fd for a
cleaned path under the root: each component is opened with
``O_NOFOLLOW | O_DIRECTORY`` from its parent's fd (created on demand), and
a symlink met on the way is resolved as if the root were ``/`` (``..``
stops at the root, absolute targets restart there), at most
``MAX_SYMLINKS`` deep. Directory fds are cached per real path, so a layer
of many small files costs about one ``openat`` per directory.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hull.archive import tarstream as ts
from hull.errors import InvalidArgument

if TYPE_CHECKING:
    from pathlib import Path

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_SYMLINKS = 40
FD_CACHE_SIZE = 256


@dataclass
class Dir:
    """An open directory under the root."""

    fd: int
    key: bytes  # the directory's real path under the root, "" for the root


def clean_name(name: bytes, label: str) -> list[bytes]:
    """Lexically clean an entry name; refuse one that climbs above the root."""
    out: list[bytes] = []
    for c in name.split(b"/"):
        if c == b"" or c == b".":
            continue
        if c == b"..":
            if not out:
                raise InvalidArgument(f"layer entry '{label}': path escapes the root")
            out.pop()
        else:
            out.append(c)
    return out


def clamp(base: list[bytes], target: bytes) -> list[bytes]:
    """``base`` joined with a symlink ``target``, ``..`` stopping at the root."""
    out = [] if target.startswith(b"/") else list(base)
    for c in target.split(b"/"):
        if c == b"" or c == b".":
            continue
        if c == b"..":
            if out:
                out.pop()
        else:
            out.append(c)
    return out


class Tree:
    """Directory fds of the destination tree, opened safely and cached.

    The cache maps a lexical directory path (after cleaning) to the fd of
    the real directory and its real path; a path through a symlink is an
    alias of its target's entry. Removing a directory or a symlink marks the
    cache stale; it is dropped before the next entry (never in the middle of
    one, so fds held by the current entry stay valid).
    """

    def __init__(self, root: Path) -> None:
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.cache: dict[bytes, Dir] = {b"": Dir(self.root_fd, b"")}
        self.stale = False
        self._links = 0

    def _drop(self, entries: list[Dir]) -> None:
        keep = {d.fd for d in self.cache.values()}
        keep.add(self.root_fd)
        for fd in {d.fd for d in entries} - keep:
            os.close(fd)

    def close(self) -> None:
        entries = list(self.cache.values())
        self.cache = {}
        self._drop(entries)
        os.close(self.root_fd)

    def invalidate(self) -> None:
        """Forget every cached fd."""
        entries = list(self.cache.values())
        self.cache = {b"": Dir(self.root_fd, b"")}
        self._drop(entries)
        self.stale = False

    def trim(self) -> None:
        """Between entries: drop a stale cache, keep the cache bounded."""
        if self.stale:
            self.invalidate()
        elif len(self.cache) > FD_CACHE_SIZE:
            popped = [self.cache.pop(key) for key in list(self.cache)[1 : FD_CACHE_SIZE // 2]]
            self._drop(popped)

    def dir(self, comps: list[bytes], create: bool, label: str) -> Dir | None:
        """The directory at ``comps`` (symlinks resolved inside the root)."""
        self._links = 0
        return self._dir(comps, create, label)

    def _dir(self, comps: list[bytes], create: bool, label: str) -> Dir | None:
        key = b"/".join(comps)
        d = self.cache.get(key)
        if d is not None:
            return d
        parent = self._dir(comps[:-1], create, label)
        if parent is None:
            return None
        name = comps[-1]
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent.fd)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir(name, 0o755, dir_fd=parent.fd)
            except FileExistsError:
                pass
            fd = os.open(name, DIR_FLAGS, dir_fd=parent.fd)
            d = Dir(fd, parent.key + b"/" + name if parent.key else name)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            st = os.stat(name, dir_fd=parent.fd, follow_symlinks=False)
            if not stat.S_ISLNK(st.st_mode):
                raise InvalidArgument(
                    f"layer entry '{label}': '{ts.entry_label(key)}' is not a directory"
                ) from None
            self._links += 1
            if self._links > MAX_SYMLINKS:
                raise InvalidArgument(
                    f"layer entry '{label}': too many levels of symbolic links"
                ) from None
            target = os.readlink(name, dir_fd=parent.fd)
            base = parent.key.split(b"/") if parent.key else []
            resolved = self._dir(clamp(base, target), create, label)
            if resolved is None:
                return None
            # Cache the alias under the lexical key too; invalidate() on
            # removal of any directory or symlink keeps aliases honest.
            self.cache[key] = resolved
            return resolved
        else:
            d = Dir(fd, parent.key + b"/" + name if parent.key else name)
        self.cache[key] = d
        if d.key != key:
            self.cache[d.key] = d
        return d


__all__ = ["DIR_FLAGS", "Dir", "Tree", "clamp", "clean_name"]
