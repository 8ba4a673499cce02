"""Users and groups of a container's rootfs, as runc's ``GetExecUser`` resolves them.

Names are looked up in the rootfs's own ``/etc/passwd`` and ``/etc/group``,
read through :func:`hull.runtime.rootfs.secure_join` (a hostile image cannot
point them at the host's files); numbers stand for themselves. One resolver
for the engine (``--user``, ``--group-add``, exec) and for builds (``USER``,
``--chown``), as Docker uses one for both.
"""

from __future__ import annotations

from collections.abc import Sequence

from hull.errors import InvalidArgument
from hull.runtime.rootfs import secure_join

_MAX_ID = 2**31 - 1


def read_db(rootfs: str, name: str) -> list[list[str]]:
    """Lines of the rootfs's /etc/passwd or /etc/group, split on ":"; [] if absent."""
    try:
        with open(secure_join(rootfs, f"/etc/{name}"), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [ln.split(":") for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def as_id(text: str) -> int | None:
    if not text.isdigit():
        return None
    n = int(text)
    if n > _MAX_ID:
        raise InvalidArgument("uids and gids must be in range 0-2147483647")
    return n


def lookup_group(groups: list[list[str]], spec: str) -> int:
    """A group name or gid; a number not in the file stands for itself."""
    gid = as_id(spec)
    for g in groups:
        if len(g) >= 3 and (g[0] == spec or (gid is not None and g[2] == spec)):
            found = as_id(g[2])
            if found is not None:
                return found
    if gid is None:
        raise InvalidArgument(f"unable to find group {spec}: no matching entries in group file")
    return gid


def resolve_user(
    rootfs: str, user: str, group_add: Sequence[str] = ()
) -> tuple[int, int, list[int]]:
    """(uid, gid, additional gids) for ``user`` in the rootfs (runc's ``GetExecUser``).

    ``user`` is "", "name", "uid", "name:group", "uid:gid" and mixes; a name
    not in /etc/passwd is refused, a number stands for itself. Without an
    explicit group, the user's memberships in /etc/group are the additional
    gids; ``group_add`` (``--group-add``) names or numbers follow them.
    """
    user_part, _, group_part = user.partition(":")
    uid_arg = as_id(user_part)
    passwd = read_db(rootfs, "passwd")
    uid = gid = 0
    matched = ""
    for p in passwd:
        if len(p) < 4:
            continue
        hit = (p[2] == str(uid_arg)) if uid_arg is not None else (
            p[0] == user_part if user_part else p[2] == "0"
        )  # fmt: skip
        pu, pg = as_id(p[2]), as_id(p[3])
        if hit and pu is not None and pg is not None:
            uid, gid, matched = pu, pg, p[0]
            break
    else:
        if user_part and uid_arg is None:
            raise InvalidArgument(
                f"unable to find user {user_part}: no matching entries in passwd file"
            )
        if uid_arg is not None:
            uid = uid_arg
    groups = read_db(rootfs, "group") if (group_part or matched or group_add) else []
    extra: list[int] = []
    if group_part:
        gid = lookup_group(groups, group_part)
    elif matched:
        for g in groups:
            gg = as_id(g[2]) if len(g) >= 3 else None
            if gg is not None and len(g) >= 4 and matched in g[3].split(","):
                extra.append(gg)
    for spec in group_add:
        extra.append(lookup_group(groups, spec))
    return uid, gid, extra


__all__ = ["as_id", "lookup_group", "read_db", "resolve_user"]
