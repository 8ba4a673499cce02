"""Cache keys of build steps, and the explanation of a miss.

A step's key is the sha256 of one canonical JSON document::

    {"v": 1, "parent": <the previous step's key, "" for FROM>, "kind": from|layer|meta,
     "inputs": {"instruction": <as written, after expansion>,
                "args": {<ARG values the step sees>},
                "files": <checksum of exactly the files a COPY/ADD reads>,
                "base": <the base image ID>, "source": <COPY --from's layer chain>, …}}

The parent key makes the key of step *n* depend on every step before it, and
so on the base image's ID (the digest of its configuration, which names its
layers). A RUN sees every ARG declared so far (they are in its environment);
any other instruction sees the ARGs its expansion read. ARG itself records
its text, not its value: a changed build-arg invalidates the steps that read
it, not the whole stage from the ARG line on. File checksums cover content,
mode, owner and symlink targets, never mtimes (``context.FileMeta``).

Inputs whose name starts with ``_`` are kept for ``explain`` only (the
per-file short hashes of a COPY) and are not part of the key.

``explain(old, new)`` lists what differs between a recorded step and a
missed one; ``explain_miss`` picks the recorded step to compare with: among
the rows with the same parent key, the most recently used one of the same
instruction keyword (for FROM: the same image name).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hull.build.context import FileMeta
    from hull.metadata import CacheEntry, Database

__all__ = ["explain", "explain_miss", "file_hashes", "step_key"]

_MAX_PATHS = 10


def step_key(parent: str, kind: str, inputs: Mapping[str, Any]) -> str:
    """The cache key of a step (see the module doc)."""
    doc = {
        "v": 1,
        "parent": parent,
        "kind": kind,
        "inputs": {k: v for k, v in inputs.items() if not k.startswith("_")},
    }
    data = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()


def file_hashes(metas: Sequence[FileMeta]) -> dict[str, str]:
    """Path → short hash of what the key covers for it (for explain)."""
    return {
        m.path: hashlib.sha256(m.record().encode("utf-8", "surrogateescape")).hexdigest()[:16]
        for m in metas
    }


def _q(value: object) -> str:
    return "unset" if value is None else json.dumps(value, ensure_ascii=False)


def _paths(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_PATHS])
    if len(names) > _MAX_PATHS:
        shown += f", … ({len(names) - _MAX_PATHS} more)"
    return shown


def explain(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What changed from the recorded inputs ``old`` to ``new``, one sentence each."""
    out: list[str] = []
    if old.get("base") != new.get("base"):
        out.append(
            f"base image {new.get('from', '')} changed: {old.get('base')} → {new.get('base')}"
        )
    if old.get("instruction") != new.get("instruction"):
        out.append(
            f"instruction changed: {_q(old.get('instruction'))} → {_q(new.get('instruction'))}"
        )
    oargs, nargs = old.get("args") or {}, new.get("args") or {}
    for name in sorted(set(oargs) | set(nargs)):
        if oargs.get(name) != nargs.get(name):
            out.append(f"build arg {name} changed: {_q(oargs.get(name))} → {_q(nargs.get(name))}")
    if old.get("source") != new.get("source"):
        out.append(f"source changed: {old.get('source')} → {new.get('source')}")
    if old.get("files") != new.get("files"):
        ofiles, nfiles = old.get("_files") or {}, new.get("_files") or {}
        changed = sorted(p for p in set(ofiles) & set(nfiles) if ofiles[p] != nfiles[p])
        added = sorted(set(nfiles) - set(ofiles))
        removed = sorted(set(ofiles) - set(nfiles))
        if changed:
            out.append(f"files changed: {_paths(changed)}")
        if added:
            out.append(f"files added: {_paths(added)}")
        if removed:
            out.append(f"files removed: {_paths(removed)}")
        if not (changed or added or removed):
            out.append("the copied files changed")
    for k in sorted((set(old) | set(new)) - _KNOWN):
        if not k.startswith("_") and old.get(k) != new.get(k):
            out.append(f"{k} changed: {_q(old.get(k))} → {_q(new.get(k))}")
    return out


_KNOWN = {"base", "from", "instruction", "args", "source", "files"}


def _word(text: object) -> str:
    return str(text or "").split(" ", 1)[0].upper()


def explain_miss(db: Database, parent: str, kind: str, inputs: Mapping[str, Any]) -> list[str]:
    """Why the step with these inputs is not in the cache (see the module doc)."""
    from hull.metadata import cache_entries_with_parent

    rows: list[CacheEntry] = cache_entries_with_parent(db, parent)
    if kind == "from":
        rows = [r for r in rows if r.kind == "from" and r.inputs.get("from") == inputs.get("from")]
        if not rows:
            return [f"no earlier build from {inputs.get('from')}"]
    else:
        rows = [r for r in rows if r.kind != "from"]
        if not rows:
            return ["no earlier build of this step after the same previous step"]
    same = [
        r for r in rows if _word(r.inputs.get("instruction")) == _word(inputs.get("instruction"))
    ]
    best = (same or rows)[0]
    reasons = explain(best.inputs, inputs)
    if not reasons:
        return ["same inputs as a recorded step whose result is gone (pruned, or --no-cache)"]
    return reasons
