"""The JSON plumbing shared by hull's OCI documents (manifests, indexes, configs).

``Reader`` walks a decoded object and raises ``InvalidArgument`` naming the
document and the field; ``put`` is Go's ``omitempty``; ``canonical_json``
writes bytes as Go's ``json.Marshal`` does, so the same object always has the
same digest.
"""

from __future__ import annotations

import json
from typing import Any

from hull.errors import InvalidArgument
from hull.oci.digest import Digest


def canonical_json(obj: Any) -> bytes:
    """Compact JSON as Go's ``json.Marshal`` writes it (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # These characters can only occur inside string literals, so a plain
    # replace is exact; Go escapes them (HTML safety) and so do we, to match.
    text = (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return text.encode("utf-8")


def decode(data: bytes | bytearray | memoryview | str, doc: str) -> Any:
    try:
        text = data if isinstance(data, str) else bytes(data).decode("utf-8")
        return json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument(f"{doc}: invalid JSON: {exc}") from exc


class Reader:
    """Typed access to one JSON object, with its path for error messages."""

    __slots__ = ("d", "doc", "path")

    def __init__(self, d: Any, doc: str, path: str) -> None:
        if not isinstance(d, dict):
            raise InvalidArgument(f"{doc}: {path or 'document'}: expected an object")
        self.d: dict[str, Any] = d
        self.doc = doc
        self.path = path

    def p(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, what: str) -> InvalidArgument:
        return InvalidArgument(f"{self.doc}: {self.p(key)}: {what}")

    def has(self, key: str) -> bool:
        return self.d.get(key) is not None

    def text(self, key: str, default: str = "") -> str:
        v = self.d.get(key)
        if v is None:
            return default
        if not isinstance(v, str):
            raise self.fail(key, "expected a string")
        return v

    def req_text(self, key: str) -> str:
        v = self.d.get(key)
        if v is None:
            raise self.fail(key, "required field is missing")
        if not isinstance(v, str):
            raise self.fail(key, "expected a string")
        return v

    def opt_text(self, key: str) -> str | None:
        v = self.d.get(key)
        if v is not None and not isinstance(v, str):
            raise self.fail(key, "expected a string")
        return v

    def integer(self, key: str, default: int | None = None) -> int:
        v = self.d.get(key)
        if v is None:
            if default is None:
                raise self.fail(key, "required field is missing")
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(key, "expected an integer")
        return v

    def size(self, key: str) -> int:
        v = self.integer(key)
        if v < 0:
            raise self.fail(key, "expected a non-negative integer")
        return v

    def flag(self, key: str) -> bool:
        v = self.d.get(key)
        if v is None:
            return False
        if not isinstance(v, bool):
            raise self.fail(key, "expected true or false")
        return v

    def digest(self, key: str) -> Digest:
        v = self.req_text(key)
        try:
            return Digest.parse(v)
        except InvalidArgument as exc:
            raise self.fail(key, exc.message) from exc

    def texts(self, key: str) -> tuple[str, ...] | None:
        v = self.d.get(key)
        if v is None:
            return None
        if not isinstance(v, list):
            raise self.fail(key, "expected an array of strings")
        for i, s in enumerate(v):
            if not isinstance(s, str):
                raise self.fail(f"{key}[{i}]", "expected a string")
        return tuple(v)

    def text_map(self, key: str) -> dict[str, str]:
        v = self.d.get(key)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.fail(key, "expected an object of strings")
        for k, s in v.items():
            if not isinstance(s, str):
                raise self.fail(f"{key}.{k}", "expected a string")
        return dict(v)

    def key_set(self, key: str) -> tuple[str, ...]:
        """A Go ``map[string]struct{}`` (ExposedPorts, Volumes): its keys, sorted."""
        v = self.d.get(key)
        if v is None:
            return ()
        if not isinstance(v, dict):
            raise self.fail(key, "expected an object")
        for k, s in v.items():
            if s is not None and not isinstance(s, dict):
                raise self.fail(f"{key}.{k}", "expected an object")
        return tuple(sorted(v))

    def obj(self, key: str) -> Reader | None:
        v = self.d.get(key)
        if v is None:
            return None
        if not isinstance(v, dict):
            raise self.fail(key, "expected an object")
        return Reader(v, self.doc, self.p(key))

    def req_obj(self, key: str) -> Reader:
        r = self.obj(key)
        if r is None:
            raise self.fail(key, "required field is missing")
        return r

    def objs(self, key: str, required: bool = False) -> list[Reader]:
        v = self.d.get(key)
        if v is None:
            if required:
                raise self.fail(key, "required field is missing")
            return []
        if not isinstance(v, list):
            raise self.fail(key, "expected an array of objects")
        out = []
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                raise self.fail(f"{key}[{i}]", "expected an object")
            out.append(Reader(item, self.doc, f"{self.p(key)}[{i}]"))
        return out


def put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` unless ``value`` is empty (Go's ``omitempty``)."""
    if not value:  # None, "", 0, False, [], {}
        return
    out[key] = value


def sorted_map(m: dict[str, str]) -> dict[str, str]:
    return {k: m[k] for k in sorted(m)}
