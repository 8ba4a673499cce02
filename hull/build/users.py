"""Users and groups of a build's rootfs: ``USER`` for RUN, ``--chown`` for COPY/ADD.

Resolved as for containers (:mod:`hull.runtime.users`): names in the
rootfs's own ``/etc/passwd`` and ``/etc/group``, numbers for themselves.
"""

from __future__ import annotations

from hull.runtime.users import as_id, lookup_group, read_db, resolve_user

__all__ = ["resolve_chown", "resolve_user"]


def resolve_chown(rootfs: str, spec: str) -> tuple[int, int]:
    """(uid, gid) of ``--chown=user[:group]``; a lone user gives the same number as gid."""
    user, sep, group = spec.partition(":")
    uid = as_id(user)
    if uid is None:
        uid = resolve_user(rootfs, user)[0]
    if sep and group:
        return uid, lookup_group(read_db(rootfs, "group"), group)
    # Docker: "a username without groupname ... uses the same numeric UID as the GID"
    return uid, uid
