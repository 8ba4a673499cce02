"""``hull history``: the layers of an image, newest first, as ``docker history``.

hull history [--no-trunc] [-q] [-H|--human=false] [--format FMT] IMAGE
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from datetime import datetime
from typing import Any

from ..table import Format
from .images import created_since, human_size, image_path, short_id

NEEDS_DAEMON = True

TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}


def ellipsis(s: str, width: int) -> str:
    """The docker CLI's ``Ellipsis``: at most ``width`` columns (wide runes count 2), then …."""
    if width <= 0:
        return ""
    if width == 1:
        return s[:1]
    widths = [2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in s]
    if sum(widths) <= width:
        return s
    used = 0
    for i, w in enumerate(widths):
        if used + w > width - 1:
            return s[:i] + "…"
        used += w
    return s


def parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool`` for ``--human=false``."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise argparse.ArgumentTypeError(f'invalid argument "{text}": expected true or false')


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--format", help="pretty-print images using a Go template")
    p.add_argument(
        "-H",
        "--human",
        nargs="?",
        const=True,
        default=True,
        type=parse_bool,
        help="print sizes and dates in human readable format (default true)",
    )
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument("image", metavar="IMAGE")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("history", help="Show the history of an image"))


def history_rows(items: list[dict[str, Any]], *, human: bool, trunc: bool) -> list[dict[str, str]]:
    """The docker CLI's history context, one row per entry (keys sorted, as ``{{json .}}``)."""
    rows = []
    for h in items:
        created = int(h.get("Created") or 0)
        created_at = datetime.fromtimestamp(created).astimezone().isoformat()
        if created_at.endswith("+00:00"):
            created_at = created_at[: -len("+00:00")] + "Z"
        created_by = str(h.get("CreatedBy") or "").replace("\t", " ")
        size = int(h.get("Size") or 0)
        image_id = str(h.get("Id") or "")
        rows.append(
            {
                "Comment": str(h.get("Comment") or ""),
                "CreatedAt": created_at,
                "CreatedBy": ellipsis(created_by, 45) if trunc else created_by,
                "CreatedSince": created_since(created) if human else created_at,
                "ID": short_id(image_id) if trunc else image_id,
                "Size": human_size(size) if human else str(size),
            }
        )
    return rows


def run(args: argparse.Namespace, client: Any) -> int:
    items = client.get(image_path(args.image, "/history"))
    fmt_text = args.format
    if not fmt_text or fmt_text == "table":
        fmt_text = "{{.ID}}" if args.quiet else TABLE
    rows = history_rows(items, human=args.human, trunc=not args.no_trunc)
    sys.stdout.write(Format(fmt_text, HEADERS).render(rows))
    return 0
