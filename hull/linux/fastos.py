"""The part of :mod:`os` the runtime's hot path uses, straight from :mod:`posix`.

``import os`` costs ~0.8 ms here (it builds ``_collections_abc`` for
``os.environ`` and pulls in ``posixpath``), a tenth of what ``hull-runtime``
adds to the interpreter's start. Almost everything in ``os`` is :mod:`posix`
itself, which is built into the interpreter and already loaded; the rest
(``makedirs`` and the few ``os.path`` helpers) is small and lives here.

Hot modules import it as ``from hull.linux import fastos as os``: the names
mean what they mean in :mod:`os` (mypy checks that only those below are used).
Other code keeps using :mod:`os`.
"""

from __future__ import annotations

from posix import (
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOCTTY,
    O_NOFOLLOW,
    O_NONBLOCK,
    O_PATH,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    WEXITSTATUS,
    WIFSIGNALED,
    WTERMSIG,
    X_OK,
    _exit,
    access,
    chdir,
    chmod,
    chown,
    chroot,
    close,
    dup,
    dup2,
    execve,
    fchdir,
    fork,
    fstat,
    fsync,
    getcwd,
    getpid,
    isatty,
    kill,
    listdir,
    lstat,
    makedev,
    mkdir,
    mkfifo,
    mknod,
    open,
    pipe,
    read,
    readlink,
    rename,
    replace,
    rmdir,
    scandir,
    setgroups,
    setresgid,
    setresuid,
    setsid,
    stat,
    statvfs,
    strerror,
    symlink,
    sysconf,
    umask,
    unlink,
    waitpid,
    write,
)
from posix import environ as _environ

_S_IFMT = 0o170000
_S_IFDIR = 0o040000
_S_IFREG = 0o100000
_S_IFLNK = 0o120000


def getenv(key: str) -> str | None:
    """An environment variable, or None."""
    v = _environ.get(key.encode())
    return v.decode("utf-8", "surrogateescape") if v is not None else None


def makedirs(name: str, mode: int = 0o777, exist_ok: bool = False) -> None:
    """``os.makedirs``: mkdir -p."""
    try:
        mkdir(name, mode)
        return
    except FileNotFoundError:
        parent = path.dirname(name.rstrip("/"))
        if not parent or parent == name:
            raise
        makedirs(parent, mode, exist_ok=True)
    except FileExistsError:
        if exist_ok and path.isdir(name):
            return
        raise
    try:
        mkdir(name, mode)
    except FileExistsError:
        if not (exist_ok and path.isdir(name)):
            raise


def _normpath(p: str) -> str:
    """Collapse ``//``, ``.`` and ``..`` lexically (``posixpath.normpath``)."""
    if not p:
        return "."
    absolute = p.startswith("/")
    # POSIX leaves the meaning of exactly two leading slashes to the system
    lead = "//" if p.startswith("//") and not p.startswith("///") else "/"
    out: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not absolute:
                out.append(part)
            continue
        out.append(part)
    joined = "/".join(out)
    if absolute:
        return lead + joined
    return joined or "."


def _realpath(p: str) -> str:
    """``os.path.realpath`` (not strict): symlinks resolved, missing tails kept."""
    # not abspath(): ".." must apply after the symlink before it is resolved
    rest = [c for c in (p if p.startswith("/") else getcwd() + "/" + p).split("/") if c]
    rest.reverse()
    done = ""
    hops = 0
    while rest:
        part = rest.pop()
        if part == ".":
            continue
        if part == "..":
            done = done.rsplit("/", 1)[0]
            continue
        cand = done + "/" + part
        try:
            st = lstat(cand)
        except OSError:
            done = cand
            continue
        if st.st_mode & _S_IFMT != _S_IFLNK:
            done = cand
            continue
        hops += 1
        if hops > 40:
            # a loop: keep the path as it is, as os.path.realpath does
            done = cand
            continue
        target = readlink(cand)
        if target.startswith("/"):
            done = ""
        more = [c for c in target.split("/") if c]
        more.reverse()
        rest.extend(more)
    return done or "/"


def _mode(p: str, follow: bool = True) -> int:
    try:
        return (stat(p) if follow else lstat(p)).st_mode & _S_IFMT
    except (OSError, ValueError):
        return 0


class path:
    """``os.path``, the functions the hot path uses."""

    @staticmethod
    def join(a: str, *more: str) -> str:
        out = a
        for b in more:
            if b.startswith("/"):
                out = b
            elif not out or out.endswith("/"):
                out += b
            else:
                out += "/" + b
        return out

    @staticmethod
    def isabs(p: str) -> bool:
        return p.startswith("/")

    @staticmethod
    def basename(p: str) -> str:
        return p[p.rfind("/") + 1 :]

    @staticmethod
    def dirname(p: str) -> str:
        head = p[: p.rfind("/") + 1]
        if head and head != "/" * len(head):
            head = head.rstrip("/")
        return head

    @staticmethod
    def normpath(p: str) -> str:
        return _normpath(p)

    @staticmethod
    def abspath(p: str) -> str:
        return _normpath(p if p.startswith("/") else getcwd() + "/" + p)

    @staticmethod
    def realpath(p: str) -> str:
        return _realpath(p)

    @staticmethod
    def exists(p: str) -> bool:
        try:
            stat(p)
        except (OSError, ValueError):
            return False
        return True

    @staticmethod
    def lexists(p: str) -> bool:
        try:
            lstat(p)
        except (OSError, ValueError):
            return False
        return True

    @staticmethod
    def isdir(p: str) -> bool:
        return _mode(p) == _S_IFDIR

    @staticmethod
    def isfile(p: str) -> bool:
        return _mode(p) == _S_IFREG

    @staticmethod
    def islink(p: str) -> bool:
        return _mode(p, follow=False) == _S_IFLNK


__all__ = [
    "O_APPEND",
    "O_CLOEXEC",
    "O_CREAT",
    "O_DIRECTORY",
    "O_EXCL",
    "O_NOCTTY",
    "O_NOFOLLOW",
    "O_NONBLOCK",
    "O_PATH",
    "O_RDONLY",
    "O_RDWR",
    "O_TRUNC",
    "O_WRONLY",
    "WEXITSTATUS",
    "WIFSIGNALED",
    "WTERMSIG",
    "X_OK",
    "_exit",
    "access",
    "chdir",
    "chmod",
    "chown",
    "chroot",
    "close",
    "dup",
    "dup2",
    "execve",
    "fchdir",
    "fork",
    "fstat",
    "fsync",
    "getcwd",
    "getenv",
    "getpid",
    "isatty",
    "kill",
    "listdir",
    "lstat",
    "makedev",
    "makedirs",
    "mkdir",
    "mkfifo",
    "mknod",
    "open",
    "path",
    "pipe",
    "read",
    "readlink",
    "rename",
    "replace",
    "rmdir",
    "scandir",
    "setgroups",
    "setresgid",
    "setresuid",
    "setsid",
    "stat",
    "statvfs",
    "strerror",
    "symlink",
    "sysconf",
    "umask",
    "unlink",
    "waitpid",
    "write",
]
