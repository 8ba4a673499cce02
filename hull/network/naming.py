"""Kernel object names of one hull daemon, and removal of leftovers of vanished daemons.

The daemon on the default data root (``/var/lib/hull``) owns the bridge
``hull0``, the nft table ``inet hull`` and user bridges ``hlbr-<id>``. Every
other data root (tests, benchmarks, a second daemon) gets names carrying a
6-hex tag of its path — ``hull0-<tag>``, ``hull_<tag>``, ``hb<tag>-<id>`` —
so two daemons on one host never touch each other's bridges or rules.

Each bridge carries ``hull:<data root>`` as its ``ifalias``. ``sweep_orphans``
removes bridges whose data root no longer exists and nft tables whose tag no
live bridge claims: what a deleted temp data root left in the kernel.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hull.network.netlink import Netlink

DEFAULT_DATA_ROOT = Path("/var/lib/hull")
ALIAS_PREFIX = "hull:"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class DaemonNames:
    """The names one daemon gives its kernel objects."""

    default_bridge: str
    table: str
    bridge_prefix: str
    owner: str  # the bridges' ifalias


def tag_of(data_root: Path) -> str:
    return hashlib.sha256(str(data_root).encode()).hexdigest()[:6]


def names_for(data_root: Path | str) -> DaemonNames:
    """The names of the daemon on ``data_root`` (see the module docstring)."""
    root = Path(os.path.abspath(data_root))
    owner = ALIAS_PREFIX + str(root)
    if root == DEFAULT_DATA_ROOT:
        return DaemonNames("hull0", "hull", "hlbr-", owner)
    tag = tag_of(root)
    return DaemonNames(f"hull0-{tag}", f"hull_{tag}", f"hb{tag}-", owner)


def _nft_tables(nft: str = "nft") -> list[str]:
    res = subprocess.run([nft, "-j", "list", "tables", "inet"], capture_output=True, text=True,
                         check=False)  # fmt: skip
    if res.returncode != 0:
        return []
    out = []
    for item in json.loads(res.stdout).get("nftables", []):
        t = item.get("table")
        if t:
            out.append(str(t["name"]))
    return out


def sweep_orphans(under: Path | None = None) -> list[str]:
    """Remove hull bridges of vanished data roots and their nft tables; what was removed.

    ``under``: data roots below it count as vanished too (a test session's
    temp directory, which pytest keeps for a while after the session).
    """
    removed: list[str] = []
    live_tags: set[str] = set()
    with Netlink() as nl:
        for link in nl.links():
            if link.kind != "bridge" or not link.alias.startswith(ALIAS_PREFIX):
                continue
            root = Path(link.alias[len(ALIAS_PREFIX) :])
            if root.exists() and not (under is not None and root.is_relative_to(under)):
                live_tags.add(tag_of(root))
                continue
            with contextlib.suppress(OSError):
                nl.delete_link(link.name)
                removed.append(link.name)
    for table in _nft_tables():
        tag = table[5:]
        is_ours = table.startswith("hull_") and len(tag) == 6 and all(c in _HEX for c in tag)
        if is_ours and tag not in live_tags:
            res = subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True,
                                 check=False)  # fmt: skip
            if res.returncode == 0:
                removed.append(f"inet {table}")
    return removed


__all__ = ["DEFAULT_DATA_ROOT", "DaemonNames", "names_for", "sweep_orphans", "tag_of"]
