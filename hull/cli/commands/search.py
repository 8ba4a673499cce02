"""``hull search [--limit N] [-f k=v] [--format TPL] [--no-trunc] TERM``: as ``docker search``.

hulld asks the registry (``GET /images/search``); the credentials stored for
the term's registry go in ``X-Registry-Auth``. The table is the docker
CLI's: NAME, DESCRIPTION (one line, cut at 45 characters with "…" unless
``--no-trunc``), STARS, OFFICIAL and AUTOMATED (``[OK]`` or blank).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hull.cli.table import Format

from .images import parse_filters
from .pull import auth_header

NEEDS_DAEMON = True

TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}"
HEADERS = {
    "Name": "NAME",
    "Description": "DESCRIPTION",
    "StarCount": "STARS",
    "IsOfficial": "OFFICIAL",
    "IsAutomated": "AUTOMATED",
}
DESCRIPTION_WIDTH = 45


def ellipsis(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last one "…", if longer."""
    return text if len(text) <= width else text[: width - 1] + "…"


def search_row(result: dict[str, Any], trunc: bool) -> dict[str, str]:
    """The fields the table and ``--format`` templates see."""
    desc = str(result.get("description") or "").replace("\n", " ").replace("\r", " ")
    return {
        "Name": str(result.get("name") or ""),
        "Description": ellipsis(desc, DESCRIPTION_WIDTH) if trunc else desc,
        "StarCount": str(int(result.get("star_count") or 0)),
        "IsOfficial": "[OK]" if result.get("is_official") else "",
        "IsAutomated": "[OK]" if result.get("is_automated") else "",
    }


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("search", help="Search a registry for images")
    p.add_argument("-f", "--filter", action="append", default=[],
                   help="filter output based on conditions provided")  # fmt: skip
    p.add_argument("--format", help="pretty-print search using a Go template")
    p.add_argument("--limit", type=int, default=0, help="max number of search results")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.add_argument("term", metavar="TERM")
    return p


def run(args: argparse.Namespace, client: Any) -> int:
    from hull.distribution.search import split_term

    filters = parse_filters(args.filter, "hull search")
    params: dict[str, Any] = {"term": args.term}
    if args.limit:
        params["limit"] = args.limit
    if filters:
        params["filters"] = filters
    domain, _ = split_term(args.term)
    reply = client.request("GET", "/images/search", params=params, headers=auth_header(domain))
    results = reply.json() or []
    fmt = Format(args.format or TABLE, HEADERS)
    sys.stdout.write(fmt.render(search_row(r, not args.no_trunc) for r in results))
    return 0
