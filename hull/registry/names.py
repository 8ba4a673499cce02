"""Validation of what a client puts in a URL: repository names, tags, digests.

Every name is checked against the distribution spec's grammar before any
path is built from it: a repository name is path components of
``[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*`` joined by ``/`` (so never ``..``,
never empty, never upper case), at most 255 characters; a tag is
``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`` (so never ``.`` or ``..``); a digest
is a ``hull.oci.digest.Digest``.
"""

from __future__ import annotations

import re

from hull.errors import InvalidArgument
from hull.oci.digest import Digest
from hull.registry.errors import RegistryError

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
MAX_NAME = 255


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid repository name, else NAME_INVALID."""
    if len(name) > MAX_NAME or not NAME_RE.fullmatch(name):
        raise RegistryError("NAME_INVALID", {"name": name[:300]})
    # The grammar already excludes them; keep the invariant explicit.
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise RegistryError("NAME_INVALID", {"name": name})
    return name


def is_tag(ref: str) -> bool:
    """Whether ``ref`` is a syntactically valid tag."""
    return TAG_RE.fullmatch(ref) is not None


def validate_tag(tag: str) -> str:
    """Return ``tag`` if valid, else TAG_INVALID."""
    if not is_tag(tag):
        raise RegistryError("TAG_INVALID", {"tag": tag[:200]}, message="invalid tag")
    return tag


def parse_digest(value: str, code: str = "DIGEST_INVALID") -> Digest:
    """Parse a digest from a URL or a query, answering ``code`` when malformed."""
    try:
        return Digest.parse(value)
    except InvalidArgument as exc:
        raise RegistryError(code, exc.message, message="invalid digest") from None


def parse_reference(ref: str) -> str | Digest:
    """A manifest reference: a tag (``str``) or a ``Digest``."""
    if ":" in ref:
        return parse_digest(ref)
    if not is_tag(ref):
        raise RegistryError("TAG_INVALID", {"tag": ref[:200]}, message="invalid tag")
    return ref


__all__ = [
    "MAX_NAME",
    "NAME_RE",
    "TAG_RE",
    "is_tag",
    "parse_digest",
    "parse_reference",
    "validate_name",
    "validate_tag",
]
