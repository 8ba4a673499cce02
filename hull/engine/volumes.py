"""Named and anonymous volumes of the local driver, as Docker keeps them.

A volume is a directory ``<data-root>/volumes/<name>/_data`` plus a record in
the metadata database. On a container's first use of an empty volume, the
content the image has at the mount point is copied up into it (Docker's
behaviour for named and anonymous volumes, not for binds). Creation makes
the directory before the record and removal drops the record before the
directory, so a crash leaves at worst an orphan directory that ``prune``
does not need to know about and a later create of that name reuses.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from hull.errors import InvalidArgument, NotFound
from hull.metadata import (
    Database,
    VolumeRecord,
    add_volume_ref,
    delete_volume,
    get_volume,
    list_volumes,
    put_volume,
    volume_users,
)

_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def check_name(name: str) -> None:
    """Docker's rule for volume names: ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``."""
    if len(name) < 2 or not name[0].isalnum() or not name.isascii() or set(name) - _NAME_OK:
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, '
            'only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
            "directory, use absolute path"
        )


def _rfc3339(t: float) -> str:
    lt = time.localtime(t)
    off = lt.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", lt) + f"{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"
    )


class VolumeManager:
    """The local volume driver over ``<data-root>/volumes`` and the database."""

    def __init__(self, data_root: Path, db: Database) -> None:
        self.root = data_root / "volumes"
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = db

    def _dir(self, name: str) -> Path:
        return self.root / name / "_data"

    def create(
        self,
        name: str | None = None,
        *,
        driver: str = "local",
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> VolumeRecord:
        """Create a volume (anonymous with a random 64-hex name when ``name`` is None).

        Creating a name that exists returns it, as Docker does.
        """
        if driver != "local":
            raise InvalidArgument(f"error looking up volume plugin {driver}: plugin not found")
        if options:
            raise InvalidArgument(
                f"create {name}: options are not supported by the local driver yet: "
                f"{sorted(options)}"
            )
        anonymous = name is None
        if name is None:
            name = uuid.uuid4().hex + uuid.uuid4().hex
        check_name(name)
        try:
            return get_volume(self.db, name)
        except NotFound:
            pass
        d = self._dir(name)
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d.parent, 0o701)
        return put_volume(
            self.db,
            VolumeRecord(
                name=name,
                mountpoint=str(d),
                driver=driver,
                labels=dict(labels or {}),
                anonymous=anonymous,
            ),
        )

    def get(self, name: str) -> VolumeRecord:
        return get_volume(self.db, name)

    def ls(self, filters: dict[str, list[str]] | None = None) -> list[VolumeRecord]:
        """Volumes matching Docker's filters: name, label, dangling, driver."""
        out = []
        for v in list_volumes(self.db):
            if filters and not self._matches(v, filters):
                continue
            out.append(v)
        return out

    def _matches(self, v: VolumeRecord, filters: dict[str, list[str]]) -> bool:
        for key, values in filters.items():
            if key == "name" and not any(x in v.name for x in values):
                return False
            if key == "driver" and v.driver not in values:
                return False
            if key == "dangling":
                want = values[-1].lower() in ("1", "true")
                if want != (not volume_users(self.db, v.name)):
                    return False
            if key == "label":
                for lab in values:
                    k, eq, val = lab.partition("=")
                    if k not in v.labels or (eq and v.labels[k] != val):
                        return False
            if key not in ("name", "driver", "dangling", "label"):
                raise InvalidArgument(f"invalid filter '{key}'")
        return True

    def remove(self, name: str, *, force: bool = False) -> None:
        """Remove a volume; in use → Docker's conflict; missing with force → nothing."""
        try:
            vol = get_volume(self.db, name)
        except NotFound:
            if force:
                return
            raise NotFound(f"get {name}: no such volume") from None
        delete_volume(self.db, name)
        shutil.rmtree(Path(vol.mountpoint).parent, ignore_errors=True)

    def prune(
        self, *, all_volumes: bool = False, labels: list[str] | None = None
    ) -> dict[str, Any]:
        """Remove unused volumes (anonymous ones only unless ``all_volumes``, as Docker 23+)."""
        deleted = []
        reclaimed = 0
        for v in list_volumes(self.db):
            if volume_users(self.db, v.name):
                continue
            if not all_volumes and not v.anonymous:
                continue
            if labels and not self._matches(v, {"label": labels}):
                continue
            reclaimed += _du(Path(v.mountpoint))
            self.remove(v.name)
            deleted.append(v.name)
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    def use(self, name: str, container_id: str) -> VolumeRecord:
        """Record that a container mounts this volume (creating it if needed)."""
        vol = self.create(name)
        add_volume_ref(self.db, vol.name, container_id)
        return vol

    @staticmethod
    def copy_up(image_dir: Path, vol: VolumeRecord) -> bool:
        """Copy what the image has at the mount point into an empty volume.

        Returns whether anything was copied. Owners, modes, times, symlinks
        and hardlinks are kept; nothing is followed out of ``image_dir``.
        """
        dest = Path(vol.mountpoint)
        if any(dest.iterdir()) or not image_dir.is_dir() or image_dir.is_symlink():
            return False
        st = image_dir.stat()
        os.chown(dest, st.st_uid, st.st_gid)
        os.chmod(dest, st.st_mode & 0o7777)
        for entry in image_dir.iterdir():
            target = dest / entry.name
            if entry.is_symlink():
                os.symlink(os.readlink(entry), target)
                os.lchown(target, entry.lstat().st_uid, entry.lstat().st_gid)
            elif entry.is_dir():
                shutil.copytree(entry, target, symlinks=True, copy_function=_copy_keep_owner)
                _chown_tree(entry, target)
            else:
                _copy_keep_owner(str(entry), str(target))
        return True

    def inspect(self, name: str) -> dict[str, Any]:
        """Docker's ``GET /volumes/{name}`` shape."""
        v = get_volume(self.db, name)
        return to_json(v)


def to_json(v: VolumeRecord) -> dict[str, Any]:
    """A volume as Docker's API shows it."""
    return {
        "CreatedAt": _rfc3339(v.created),
        "Driver": v.driver,
        "Labels": v.labels or None,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options or None,
        "Scope": "local",
    }


def _copy_keep_owner(src: str, dst: str) -> str:
    shutil.copy2(src, dst, follow_symlinks=False)
    st = os.lstat(src)
    os.lchown(dst, st.st_uid, st.st_gid)
    return dst


def _chown_tree(src: Path, dst: Path) -> None:
    for dirpath, dirnames, _files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        for d in [".", *dirnames]:
            s = os.path.join(dirpath, d)
            t = os.path.join(dst, rel, d)
            st = os.lstat(s)
            os.lchown(t, st.st_uid, st.st_gid)


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total
