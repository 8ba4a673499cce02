"""Docker's table output and ``--format`` handling shared by every listing verb.

    render_table(rows, [("CONTAINER ID", "ID"), ("IMAGE", "Image")])
    Format("table {{.Repository}}\\t{{.Tag}}").render(items)

Columns are aligned as Go's ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)``
the docker CLI uses: each cell padded to its column's widest text plus 3
spaces, at least 10; the last column is not padded. A ``table`` format
prints a header row made by executing the template with every field
replaced by its upper-cased name (or the command's header for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .gofmt import go_str
from .template import Template

MIN_WIDTH = 10
PADDING = 3


def tabwrite(lines: Iterable[str], minwidth: int = MIN_WIDTH, padding: int = PADDING) -> str:
    """Align tab-separated cells into columns; lines end with a newline."""
    rows = [line.split("\t") for line in lines]
    widths: list[int] = []
    for cells in rows:
        for i, c in enumerate(cells[:-1]):  # text after the last tab is not a column cell
            if i == len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(c))
    out = []
    for cells in rows:
        parts = [c.ljust(max(minwidth, widths[i] + padding)) for i, c in enumerate(cells[:-1])]
        parts.append(cells[-1])
        out.append("".join(parts))
    return "".join(line + "\n" for line in out)


def render_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str]], header: bool = True
) -> str:
    """Rows as Docker's table: ``columns`` are (HEADER, key of the row)."""
    lines = ["\t".join(h for h, _ in columns)] if header else []
    for r in rows:
        lines.append("\t".join(go_str(r.get(k, "")) for _, k in columns))
    return tabwrite(lines)


class _Header(str):
    """What a field evaluates to while rendering a table's header row."""

    headers: Mapping[str, str] = {}

    def __getattr__(self, name: str) -> _Header:
        if name.startswith("_"):
            raise AttributeError(name)
        h = _Header(self.headers.get(name, _split_upper(name)))
        h.headers = self.headers
        return h


def _split_upper(name: str) -> str:
    """``CreatedSince`` → ``CREATED SINCE``; ``ID`` stays ``ID``."""
    out = ""
    for i, ch in enumerate(name):
        if i and ch.isupper() and not name[i - 1].isupper():
            out += " "
        out += ch.upper()
    return out


class _HeaderData(dict[str, Any]):
    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__()
        self._headers = headers

    def get(self, key: str, default: Any = None) -> Any:
        h = _Header(self._headers.get(key, _split_upper(key)))
        h.headers = self._headers
        return h


def unescape(fmt: str) -> str:
    """Docker turns the two-character ``\\t`` and ``\\n`` of a format into tab and newline."""
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


class Format:
    """A ``--format`` value: Go template, ``table`` template, or ``json``."""

    def __init__(self, text: str, headers: Mapping[str, str] | None = None) -> None:
        text = text.strip(" ")
        self.headers = headers or {}
        self.is_table = text == "table" or text.startswith("table ")
        self.is_json = text == "json"
        if self.is_json:
            text = "{{json .}}"
        elif self.is_table:
            text = text[len("table") :].lstrip(" ")
        self.template = Template(unescape(text))

    def header(self) -> str:
        """The header row of a table format."""
        return self.template.render(_HeaderData(self.headers))

    def render_one(self, item: Any) -> str:
        return self.template.render(item)

    def render(self, items: Iterable[Any]) -> str:
        """Every item, one per line; a table gets its header and aligned columns."""
        rendered = [self.render_one(it) for it in items]
        if not self.is_table:
            return "".join(r + "\n" for r in rendered)
        return tabwrite([self.header(), *rendered])


__all__ = ["Format", "render_table", "tabwrite", "unescape"]
