"""``hull images``: list images, as ``docker images`` (``hull image ls``).

    hull images [-a] [-q] [--digests] [--no-trunc] [-f FILTER]... [--format FMT] [REPO[:TAG]]

One row per repository and tag (and per digest with ``--digests``), as the
docker CLI's image formatter lays them out; sizes are
``HumanSizeWithPrecision(size, 3)``, ages "2 hours ago". Also the helpers
the other image verbs print with (``short_id``, ``created_since``, ...).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

from hull.engine.units import human_duration, human_size_with_precision

from ..errors import UsageError
from ..table import Format

NEEDS_DAEMON = True

TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
TABLE_DIGESTS = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)
QUIET = "{{.ID}}"
HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "VirtualSize": "SIZE",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}


# -- shared by the image verbs ------------------------------------------------------------


def image_path(name: str, suffix: str = "") -> str:
    """``/images/<name><suffix>``, the name unescaped as the docker client sends it."""
    return "/images/" + quote(name, safe="/:@") + suffix


def short_id(image_id: str) -> str:
    """``stringid.TruncateID``: no algorithm, 12 characters."""
    return image_id.partition(":")[2][:12] if ":" in image_id else image_id[:12]


def human_size(size: float) -> str:
    """``units.HumanSizeWithPrecision(size, 3)``, the sizes of image tables."""
    return human_size_with_precision(size, 3)


def created_since(created: float, now: float | None = None) -> str:
    """``2 hours ago``."""
    now = time.time() if now is None else now
    return human_duration(now - created) + " ago"


def go_time(ts: float) -> str:
    """Go's ``time.Time.String()`` in local time: ``2006-01-02 15:04:05 -0700 MST``."""
    return datetime.fromtimestamp(int(ts)).astimezone().strftime("%Y-%m-%d %H:%M:%S %z %Z")


def parse_filters(specs: list[str], prog: str) -> dict[str, list[str]]:
    """``-f key=value`` flags → Docker's filters map."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, value = spec.partition("=")
        if not sep or not key:
            raise UsageError(f"bad format of filter (expected name=value): {spec}", prog)
        out.setdefault(key.strip().lower(), []).append(value)
    return out


def split_tag(ref: str) -> tuple[str, str]:
    """``repo:tag`` → (repo, tag); the colon of a registry port is not a tag's."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, ""
    return name, tag


def is_dangling(img: dict[str, Any]) -> bool:
    tags = img.get("RepoTags") or []
    digests = img.get("RepoDigests") or []
    if not tags and not digests:
        return True
    return tags == ["<none>:<none>"] and digests == ["<none>@<none>"]


def _row(img: dict[str, Any], repo: str, tag: str, digest: str, trunc: bool) -> dict[str, str]:
    size = int(img.get("Size") or 0)
    shared = int(img.get("SharedSize", -1))
    containers = int(img.get("Containers", -1))
    created = float(img.get("Created") or 0)
    image_id = str(img.get("Id", ""))
    # sorted keys: what {{json .}} prints, as the docker CLI's MarshalJSON
    return {
        "Containers": "N/A" if containers == -1 else str(containers),
        "CreatedAt": go_time(created),
        "CreatedSince": created_since(created),
        "Digest": digest,
        "ID": short_id(image_id) if trunc else image_id,
        "Repository": repo,
        "SharedSize": "N/A" if shared == -1 else human_size(shared),
        "Size": human_size(size),
        "Tag": tag,
        "UniqueSize": "N/A" if shared == -1 else human_size(size - shared),
        "VirtualSize": human_size(int(img.get("VirtualSize", size) or 0)),
    }


def image_rows(images: list[dict[str, Any]], *, digests: bool, trunc: bool) -> list[dict[str, str]]:
    """The docker CLI's ``imageFormat``: rows per repository/tag (and digest)."""
    rows: list[dict[str, str]] = []
    for img in images:
        if is_dangling(img):
            rows.append(_row(img, "<none>", "<none>", "<none>", trunc))
            continue
        repo_tags: dict[str, list[str]] = {}
        repo_digests: dict[str, list[str]] = {}
        for ref in img.get("RepoTags") or []:
            repo, tag = split_tag(ref)
            if tag:
                repo_tags.setdefault(repo, []).append(tag)
        for ref in img.get("RepoDigests") or []:
            repo, sep, dgst = ref.partition("@")
            if sep:
                repo_digests.setdefault(repo, []).append(dgst)
        for repo, tags in repo_tags.items():
            dgsts = repo_digests.pop(repo, [])
            if not digests:
                dgsts = []
            for tag in tags:
                for d in dgsts or ["<none>"]:
                    rows.append(_row(img, repo, tag, d, trunc))
        for repo, dgsts in repo_digests.items():
            if digests:
                rows.extend(_row(img, repo, "<none>", d, trunc) for d in dgsts)
            else:
                rows.append(_row(img, repo, "<none>", "", trunc))
    return rows


# -- the verb -----------------------------------------------------------------------------


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-a", "--all", action="store_true", help="show all images")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument("--digests", action="store_true", help="show digests")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument(
        "-f", "--filter", action="append", default=[], help="filter output based on conditions"
    )
    p.add_argument("--format", help="pretty-print images using a Go template")
    p.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("images", help="List images"))


def list_format(fmt: str | None, quiet: bool, digests: bool) -> Format:
    """The docker CLI's ``NewImageFormat``."""
    if not fmt or fmt == "table":
        fmt = QUIET if quiet else TABLE_DIGESTS if digests else TABLE
    return Format(fmt, HEADERS)


def run(args: argparse.Namespace, client: Any) -> int:
    filters = parse_filters(args.filter, f"hull {args.verb}")
    if args.reference:
        filters.setdefault("reference", []).append(args.reference)
    params: dict[str, Any] = {"all": args.all or None}
    if filters:
        params["filters"] = filters
    images = client.get("/images/json", params=params)
    fmt = list_format(args.format, args.quiet, args.digests)
    rows = image_rows(images, digests=args.digests, trunc=not args.no_trunc)
    sys.stdout.write(fmt.render(rows))
    return 0
