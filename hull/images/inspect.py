"""Docker's JSON shapes for images: inspect, summary (``docker images``), history.

Pure functions over records: the service gathers the facts (tags, layer
paths, children) and these functions lay them out the way Docker's Engine
API (v1.41+) does, field for field, including Go's ``null`` for empty
slices where Docker writes it. Also the ``docker images`` filters
(``reference`` with Go's ``path.Match`` glob, ``label``, ``dangling``,
``before``, ``since``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from hull import metadata as md
from hull.errors import InvalidArgument, NotFound
from hull.images.reference import Reference, parse_reference
from hull.metadata import Database, ImageRecord
from hull.oci.digest import Digest

ZERO_TIME = "0001-01-01T00:00:00Z"
IMAGE_FILTERS = frozenset({"dangling", "reference", "label", "before", "since"})

# Docker's container.Config with every non-omitempty field, in Go's order.
_CONFIG_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""),
    ("Domainname", ""),
    ("User", ""),
    ("AttachStdin", False),
    ("AttachStdout", False),
    ("AttachStderr", False),
    ("ExposedPorts", None),
    ("Tty", False),
    ("OpenStdin", False),
    ("StdinOnce", False),
    ("Env", None),
    ("Cmd", None),
    ("Healthcheck", None),
    ("ArgsEscaped", None),
    ("Image", ""),
    ("Volumes", None),
    ("WorkingDir", ""),
    ("Entrypoint", None),
    ("OnBuild", None),
    ("Labels", None),
    ("StopSignal", None),
    ("Shell", None),
)
_OMITEMPTY = frozenset({"ExposedPorts", "Healthcheck", "ArgsEscaped", "StopSignal", "Shell"})


def parse_time(value: str | None) -> float | None:
    """Unix seconds of an RFC 3339 timestamp (nanoseconds allowed); None if absent or bad."""
    if not value:
        return None
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if m is None:
        return None
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    try:
        base = datetime.fromisoformat(m.group(1) + zone).timestamp()
    except ValueError:
        return None
    frac = m.group(2) or ""
    return base + (int(frac) / 10 ** len(frac) if frac else 0.0)


def format_time(ts: float | None) -> str:
    """RFC 3339 in UTC as Go's ``time.Time`` marshals it (zero time for None)."""
    if ts is None:
        return ZERO_TIME
    ns = round(ts * 1e9)
    sec, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}".rstrip("0").rstrip(".") + "Z"


def container_config(raw: Any) -> dict[str, Any]:
    """A ``config`` object of an image configuration in Docker's full shape."""
    src = raw if isinstance(raw, dict) else {}
    out: dict[str, Any] = {}
    for key, default in _CONFIG_DEFAULTS:
        value = src.get(key, default)
        if key in _OMITEMPTY and not value:
            continue
        out[key] = value
    for key, value in src.items():  # anything Docker added that we do not know
        out.setdefault(key, value)
    return out


def split_refs(refs: Iterable[str]) -> tuple[list[str], list[str]]:
    """Stored full references to familiar ``(RepoTags, RepoDigests)``."""
    tags: list[str] = []
    digests: list[str] = []
    for text in refs:
        ref = parse_reference(text, default_tag=None)
        if ref.digest is not None:
            digests.append(ref.familiar())
        elif ref.tag is not None:
            tags.append(ref.familiar())
    return tags, digests


def raw_config(record: ImageRecord) -> dict[str, Any]:
    """The image configuration as stored, decoded (an empty dict if it is not an object)."""
    try:
        obj = json.loads(record.config)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def inspect_image(
    record: ImageRecord,
    refs: Iterable[str],
    *,
    driver: str,
    driver_data: Mapping[str, str],
) -> dict[str, Any]:
    """``GET /images/{name}/json``: Docker's ``ImageInspect``."""
    cfg = raw_config(record)
    tags, digests = split_refs(refs)
    rootfs: dict[str, Any] = cfg["rootfs"] if isinstance(cfg.get("rootfs"), dict) else {}
    size = sum(layer.diff_size for layer in record.layers)
    out: dict[str, Any] = {
        "Id": str(record.id),
        "RepoTags": tags,
        "RepoDigests": digests,
        "Parent": str(record.parent) if record.parent else "",
        "Comment": cfg.get("comment", ""),
        "Created": cfg.get("created") or ZERO_TIME,
        "Container": cfg.get("container", ""),
        "ContainerConfig": container_config(cfg.get("container_config")),
        "DockerVersion": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Config": container_config(cfg.get("config")),
        "Architecture": cfg.get("architecture", ""),
    }
    if cfg.get("variant"):
        out["Variant"] = cfg["variant"]
    out["Os"] = cfg.get("os", "")
    if cfg.get("os.version"):
        out["OsVersion"] = cfg["os.version"]
    out["Size"] = size
    out["VirtualSize"] = size
    out["GraphDriver"] = {"Data": dict(driver_data) or None, "Name": driver}
    out["RootFS"] = {"Type": rootfs.get("type", "layers"), "Layers": rootfs.get("diff_ids", [])}
    out["Metadata"] = {"LastTagTime": format_time(record.last_tagged)}
    return out


def image_summary(
    record: ImageRecord, refs: Iterable[str], *, containers: int = -1
) -> dict[str, Any]:
    """One entry of ``GET /images/json``: Docker's ``ImageSummary``."""
    tags, digests = split_refs(refs)
    size = sum(layer.diff_size for layer in record.layers)
    labels = raw_config(record).get("config") or {}
    return {
        "Containers": containers,
        "Created": int(record.created or 0),
        "Id": str(record.id),
        "Labels": labels.get("Labels") if isinstance(labels, dict) else None,
        "ParentId": str(record.parent) if record.parent else "",
        "RepoDigests": digests,
        "RepoTags": tags,
        "SharedSize": -1,
        "Size": size,
        "VirtualSize": size,
    }


def history_items(record: ImageRecord) -> list[dict[str, Any]]:
    """The config's history newest first, each with the size of its layer, ids "<missing>"."""
    cfg = raw_config(record)
    entries = cfg.get("history") if isinstance(cfg.get("history"), list) else []
    out: list[dict[str, Any]] = []
    n = 0
    for h in entries or []:
        if not isinstance(h, dict):
            continue
        size = 0
        if not h.get("empty_layer"):
            if n >= len(record.layers):
                raise InvalidArgument(
                    f"image {record.id}: too many non-empty layers in History section"
                )
            size = record.layers[n].diff_size
            n += 1
        out.append(
            {
                "Comment": h.get("comment", ""),
                "Created": int(parse_time(h.get("created")) or 0),
                "CreatedBy": h.get("created_by", ""),
                "Id": "<missing>",
                "Size": size,
                "Tags": None,
            }
        )
    out.reverse()
    return out


# -- filters ----------------------------------------------------------------------------


def path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``: ``*`` and ``?`` stop at ``/``, ``[...]`` classes, ``\\`` escapes."""
    rx: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            rx.append("[^/]*")
        elif c == "?":
            rx.append("[^/]")
        elif c == "\\":
            i += 1
            if i >= len(pattern):
                raise InvalidArgument(f"syntax error in pattern: {pattern}")
            rx.append(re.escape(pattern[i]))
        elif c == "[":
            j = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("^", "]") else i + 1)
            if j < 0:
                raise InvalidArgument(f"syntax error in pattern: {pattern}")
            body = pattern[i + 1 : j]
            neg = body.startswith("^")
            if neg:
                body = body[1:]
            if not body:
                raise InvalidArgument(f"syntax error in pattern: {pattern}")
            cls = "".join("\\" + ch if ch in "\\]^[" else ch for ch in body)
            rx.append(f"[{'^' if neg else ''}{cls}]")
            i = j
        else:
            rx.append(re.escape(c))
        i += 1
    return re.fullmatch("".join(rx), name) is not None


def familiar_match(pattern: str, ref: Reference) -> bool:
    """``reference.FamiliarMatch``: the familiar string, else the familiar name."""
    return path_match(pattern, ref.familiar()) or path_match(pattern, ref.familiar_name())


def check_filters(filters: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Validate ``docker images`` filters; InvalidArgument names an unknown one."""
    out: dict[str, list[str]] = {}
    for key, values in filters.items():
        if key not in IMAGE_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        vals = [values] if isinstance(values, str) else list(values)
        if key == "dangling":
            for v in vals:
                if v.lower() not in ("true", "false", "1", "0"):
                    raise InvalidArgument(f"invalid filter 'dangling={v}': expected true or false")
        out[key] = vals
    return out


def labels_match(labels: Mapping[str, str], wanted: Iterable[str]) -> bool:
    """Every ``KEY`` or ``KEY=VALUE`` of ``wanted`` holds on ``labels``."""
    for w in wanted:
        key, sep, value = w.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


# -- queries ------------------------------------------------------------------------------


def list_summaries(
    db: Database,
    filters: Mapping[str, Iterable[str]],
    *,
    all: bool,
    resolve: Callable[[str], ImageRecord],
) -> list[dict[str, Any]]:
    """Docker's ``Images``: summaries newest first, filtered; intermediate images only with all."""
    f = check_filters(filters)
    dangling: bool | None = None
    if "dangling" in f:
        dangling = f["dangling"][-1].lower() in ("true", "1")
    before = min((resolve(v).created or 0 for v in f.get("before", [])), default=None)
    since = max((resolve(v).created or 0 for v in f.get("since", [])), default=None)
    refs_by_id: dict[Digest, list[str]] = {}
    for ref_text, image_id in md.list_tags(db):
        refs_by_id.setdefault(image_id, []).append(ref_text)
    records = md.list_images(db)
    parents = {r.parent for r in records if r.parent}
    out = []
    for record in records:
        created = record.created or 0
        if before is not None and created >= before:
            continue
        if since is not None and created <= since:
            continue
        if "label" in f and not labels_match(record.labels, f["label"]):
            continue
        refs = refs_by_id.get(record.id, [])
        if "reference" in f:
            refs = [
                r
                for r in refs
                if any(familiar_match(p, parse_reference(r, None)) for p in f["reference"])
            ]
            if not refs:
                continue
        summary = image_summary(record, refs)
        if not refs:
            if not all and record.id in parents:
                continue  # an intermediate image
            if dangling is False:
                continue
            summary["RepoTags"] = ["<none>:<none>"]
            summary["RepoDigests"] = ["<none>@<none>"]
        elif dangling and summary["RepoTags"]:
            continue
        out.append(summary)
    return out


def history(db: Database, record: ImageRecord) -> list[dict[str, Any]]:
    """Docker's ``ImageHistory``: ids and tags along the parent chain, "<missing>" past it."""
    items = history_items(record)
    current: ImageRecord | None = record
    for item in items:
        if current is None:
            break
        item["Id"] = str(current.id)
        tags, _ = split_refs(md.tags_for(db, current.id))
        item["Tags"] = tags or None
        try:
            current = md.get_image(db, current.parent) if current.parent else None
        except NotFound:
            current = None
    return items


__all__ = [
    "IMAGE_FILTERS",
    "ZERO_TIME",
    "check_filters",
    "container_config",
    "familiar_match",
    "format_time",
    "history",
    "history_items",
    "image_summary",
    "inspect_image",
    "labels_match",
    "list_summaries",
    "parse_time",
    "path_match",
    "raw_config",
    "split_refs",
]
