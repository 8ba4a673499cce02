"""Users and groups of a build's rootfs: ``USER`` for RUN, ``--chown`` for COPY/ADD.

Names are looked up in the rootfs' own ``/etc/passwd`` and ``/etc/group``
(read through ``secure_join``, so a hostile image cannot point them at the
host's files); numbers stand for themselves.
"""

from __future__ import annotations

from hull.errors import InvalidArgument
from hull.runtime.rootfs import secure_join

__all__ = ["resolve_chown", "resolve_user"]

_MAX_ID = 2**32 - 2


def _read(rootfs: str, name: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, f"/etc/{name}"), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [ln.split(":") for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _num(text: str) -> int | None:
    if not text.isdigit():
        return None
    n = int(text)
    if n > _MAX_ID:
        raise InvalidArgument(f"uid or gid {text} is out of range")
    return n


def _group(rootfs: str, spec: str) -> int:
    gid = _num(spec)
    if gid is not None:
        return gid
    for g in _read(rootfs, "group"):
        if len(g) >= 3 and g[0] == spec and _num(g[2]) is not None:
            return int(g[2])
    raise InvalidArgument(f"unable to find group {spec}: no matching entries in group file")


def resolve_user(rootfs: str, spec: str) -> tuple[int, int, list[int]]:
    """(uid, gid, additional gids) of ``USER`` ``spec`` (``name``, ``uid``, ``a:b``) in rootfs."""
    user, _, group = spec.partition(":")
    user = user or "root"
    uid_arg = _num(user)
    uid, gid, name = uid_arg or 0, 0, ""
    found = False
    for p in _read(rootfs, "passwd"):
        if len(p) < 4:
            continue
        if (uid_arg is not None and p[2] == str(uid_arg)) or (uid_arg is None and p[0] == user):
            pu, pg = _num(p[2]), _num(p[3])
            if pu is not None and pg is not None:
                uid, gid, name, found = pu, pg, p[0], True
                break
    if not found and uid_arg is None:
        raise InvalidArgument(f"unable to find user {user}: no matching entries in passwd file")
    extra: list[int] = []
    if group:
        gid = _group(rootfs, group)
    elif name:
        for g in _read(rootfs, "group"):
            members = g[3].split(",") if len(g) >= 4 else []
            gg = _num(g[2]) if len(g) >= 3 else None
            if name in members and gg is not None and gg != gid:
                extra.append(gg)
    return uid, gid, extra


def resolve_chown(rootfs: str, spec: str) -> tuple[int, int]:
    """(uid, gid) of ``--chown=user[:group]``; a lone user gives the same number as gid."""
    user, sep, group = spec.partition(":")
    uid = _num(user)
    if uid is None:
        uid = resolve_user(rootfs, user)[0]
    if sep and group:
        return uid, _group(rootfs, group)
    # Docker: "a username without groupname ... uses the same numeric UID as the GID"
    return uid, uid
