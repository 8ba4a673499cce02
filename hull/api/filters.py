"""Docker's ``filters`` query parameter: a JSON map of field → values.

Two spellings reach the daemon: ``{"type": ["container"]}`` and the older
``{"type": {"container": true}}``; both parse to ``Filters``. Matching
follows moby's ``api/types/filters``: a field with no values matches
everything; ``exact`` compares whole strings, ``fuzzy`` also accepts a
prefix (ids), ``labels`` needs every ``key`` / ``key=value`` to be present.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from hull.errors import InvalidArgument


class Filters:
    """Parsed filters; routes read them with ``get``/``exact``/``fuzzy``/``labels``."""

    def __init__(self, fields: Mapping[str, Iterable[str]] | None = None) -> None:
        self.fields: dict[str, set[str]] = {k: set(v) for k, v in (fields or {}).items()}

    @classmethod
    def from_json(cls, text: str | None) -> Filters:
        """Parse the query parameter; malformed → InvalidArgument."""
        if not text:
            return cls()
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise InvalidArgument(f"invalid filter: {exc}") from exc
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid filter: expected a JSON object")
        out: dict[str, set[str]] = {}
        for key, val in raw.items():
            if isinstance(val, dict):
                out[key] = {str(k) for k, on in val.items() if on}
            elif isinstance(val, list):
                out[key] = {str(v) for v in val}
            else:
                raise InvalidArgument(f"invalid filter: values of '{key}' must be a list")
        return cls(out)

    def to_json(self) -> str:
        """The modern spelling, for clients."""
        return json.dumps({k: sorted(v) for k, v in self.fields.items()})

    def validate(self, allowed: Iterable[str]) -> None:
        """InvalidArgument("invalid filter 'x'") for a field outside ``allowed``."""
        allowed = set(allowed)
        for key in self.fields:
            if key not in allowed:
                raise InvalidArgument(f"invalid filter '{key}'")

    def get(self, field: str) -> set[str]:
        return self.fields.get(field, set())

    def __contains__(self, field: object) -> bool:
        return field in self.fields

    def __bool__(self) -> bool:
        return bool(self.fields)

    def exact(self, field: str, value: str) -> bool:
        vals = self.fields.get(field)
        return not vals or value in vals

    def fuzzy(self, field: str, value: str) -> bool:
        vals = self.fields.get(field)
        if not vals:
            return True
        return any(value == v or (v and value.startswith(v)) for v in vals)

    def labels(self, field: str, attrs: Mapping[str, str]) -> bool:
        """Every ``key`` or ``key=value`` of ``field`` is in ``attrs``."""
        for spec in self.fields.get(field, ()):
            key, sep, value = spec.partition("=")
            if key not in attrs or (sep and attrs[key] != value):
                return False
        return True


__all__ = ["Filters"]
