"""A container's mounts, from its create request to the spec's list.

``parse_bind`` (``-v``/``Binds``) and ``parse_api_mount`` (``--mount``/
``Mounts``) read Docker's two syntaxes into one mount-point shape;
``plan_mounts`` merges them with the image's volumes; ``make_mounts`` creates
the named and anonymous volumes a plan needs; ``resolved_mounts`` is what
the spec generator mounts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hull.engine.spec import ResolvedMount, merge_tmpfs_options
from hull.engine.volumes import VolumeManager, check_name
from hull.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hull.engine.config import ContainerConfig, HostConfig

PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate")


def _mount_point(kind: str, dest: str, **kw: Any) -> dict[str, Any]:
    mp: dict[str, Any] = {"Type": kind, "Source": "", "Destination": dest, "Mode": "",
                          "RW": True, "Propagation": ""}  # fmt: skip
    mp.update(kw)
    return mp


def _clean_dest(dest: str, spec: str) -> str:
    if not dest.startswith("/"):
        raise InvalidArgument(f"invalid volume specification: '{spec}': invalid mount config "
                              "for type \"volume\": invalid mount path: "
                              f"'{dest}' mount path must be absolute")  # fmt: skip
    norm = os.path.normpath(dest)
    if norm == "/":
        raise InvalidArgument(f"invalid volume specification: '{spec}': "
                              "invalid mount config: destination can't be '/'")  # fmt: skip
    return norm


def parse_bind(spec: str) -> dict[str, Any]:
    """One ``HostConfig.Binds`` entry (``src:dst[:opts]``) as a mount point (not yet made)."""
    parts = spec.split(":")
    if len(parts) == 2:
        src, dest, mode = parts[0], parts[1], ""
    elif len(parts) == 3:
        src, dest, mode = parts
    else:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    if not src or not dest:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    dest = _clean_dest(dest, spec)
    rw, prop, nocopy = True, "", False
    for opt in mode.split(",") if mode else []:
        if opt in ("ro", "rw"):
            rw = opt == "rw"
        elif opt in PROPAGATIONS:
            prop = opt
        elif opt in ("z", "Z"):
            pass  # SELinux relabelling: nothing to do without SELinux
        elif opt == "nocopy":
            nocopy = True
        else:
            raise InvalidArgument(f"invalid mode: {mode}")
    if src.startswith("/"):
        if nocopy:
            raise InvalidArgument(f"invalid mode: {mode}")
        return _mount_point("bind", dest, Source=os.path.normpath(src), Mode=mode, RW=rw,
                            Propagation=prop or "rprivate", CreateSource=True)  # fmt: skip
    if prop:
        raise InvalidArgument(f"invalid mode: {mode}")
    check_name(src)
    return _mount_point("volume", dest, Name=src, Driver="local", Mode=mode or "z", RW=rw,
                        CopyData=not nocopy)  # fmt: skip


def parse_api_mount(m: Any) -> dict[str, Any]:
    """One ``HostConfig.Mounts`` entry (``--mount``) as a mount point."""
    dest = _clean_dest(m.target, m.target)
    if m.type == "bind":
        if not m.source or not m.source.startswith("/"):
            raise InvalidArgument(
                'invalid mount config for type "bind": invalid mount path: '
                f"'{m.source}' mount path must be absolute"
            )
        bo = m.bind_options
        prop = (bo.propagation if bo else "") or "rprivate"
        return _mount_point("bind", dest, Source=os.path.normpath(m.source), RW=not m.read_only,
                            Propagation=prop, NonRecursive=bool(bo and bo.non_recursive),
                            CreateSource=bool(bo and bo.create_mountpoint))  # fmt: skip
    if m.type == "volume":
        vo = m.volume_options
        if m.source:
            check_name(m.source)
        return _mount_point("volume", dest, Name=m.source, Driver="local", RW=not m.read_only,
                            CopyData=not (vo and vo.no_copy),
                            Labels=dict(vo.labels) if vo else {})  # fmt: skip
    if m.type == "tmpfs":
        if m.source:
            raise InvalidArgument('invalid mount config for type "tmpfs": '
                                  "field Source must not be specified")  # fmt: skip
        opts = []
        to = m.tmpfs_options
        if to and to.size_bytes:
            opts.append(f"size={to.size_bytes}")
        if to and to.mode:
            opts.append(f"mode={to.mode:o}")
        return _mount_point("tmpfs", dest, RW=not m.read_only, TmpfsOptions=opts)
    raise InvalidArgument(f'invalid mount config for type "{m.type}": mount type unknown')


def plan_mounts(cfg: ContainerConfig, host: HostConfig) -> list[dict[str, Any]]:
    """Every mount point of a new container: image/``-v /path`` volumes, binds, ``--mount``.

    Later sources win over ``Config.Volumes`` for the same destination; two
    binds or mounts on one destination are Docker's "Duplicate mount point".
    """
    by_dest: dict[str, dict[str, Any]] = {}
    explicit: set[str] = set()
    for spec in host.binds or ():
        mp = parse_bind(spec)
        if mp["Destination"] in explicit:
            raise InvalidArgument(f"Duplicate mount point: {mp['Destination']}")
        explicit.add(mp["Destination"])
        by_dest[mp["Destination"]] = mp
    for m in host.mounts or ():
        mp = parse_api_mount(m)
        if mp["Destination"] in explicit:
            raise InvalidArgument(f"Duplicate mount point: {mp['Destination']}")
        explicit.add(mp["Destination"])
        by_dest[mp["Destination"]] = mp
    for dest in cfg.volumes or ():
        d = _clean_dest(dest, dest)
        if d not in by_dest and d not in host.tmpfs:
            by_dest[d] = _mount_point("volume", d, Name="", Driver="local", CopyData=True)
    return sorted(by_dest.values(), key=lambda mp: mp["Destination"])


def make_mounts(plan: list[dict[str, Any]], cid: str, volumes: VolumeManager) -> None:
    """Create bind sources (``-v`` only) and volumes (anonymous when unnamed); fill Source."""
    for mp in plan:
        if mp["Type"] == "bind":
            src = Path(mp["Source"])
            if not src.exists():
                if not mp.pop("CreateSource", False):
                    raise InvalidArgument(
                        'invalid mount config for type "bind": bind source path does not '
                        f"exist: {src}"
                    )
                src.mkdir(parents=True, exist_ok=True)
            mp.pop("CreateSource", None)
        elif mp["Type"] == "volume":
            labels = mp.pop("Labels", None) or None
            if mp["Name"]:
                vol = volumes.create(mp["Name"], labels=labels)
            else:
                vol = volumes.create(None, labels=labels)
                mp["Anonymous"] = True
            volumes.use(vol.name, cid)
            mp["Name"], mp["Source"] = vol.name, vol.mountpoint


def resolved_mounts(plan: list[dict[str, Any]]) -> list[ResolvedMount]:
    """The stored mount points as :func:`generate_spec` takes them."""
    out = []
    for mp in plan:
        if mp["Type"] == "tmpfs":
            opts = merge_tmpfs_options(mp.get("TmpfsOptions") or [])
            out.append(ResolvedMount(mp["Destination"], "tmpfs", "tmpfs", not mp["RW"], "",
                                     False, tuple(opts)))  # fmt: skip
        else:
            prop = mp.get("Propagation") or ""
            out.append(ResolvedMount(mp["Destination"], mp["Source"], "bind", not mp["RW"],
                                     "" if prop == "rprivate" else prop,
                                     bool(mp.get("NonRecursive"))))  # fmt: skip
    return out
