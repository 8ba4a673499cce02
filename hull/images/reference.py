"""Image references (``docker.io/library/busybox:latest``) parsed exactly as Docker does.

Owns the grammar and normalisation of github.com/distribution/reference
(``ParseNormalizedNamed``, ``TagNameOnly``, ``FamiliarName``)::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain "/"] path
    domain           := host [":" port]          host: DNS name, IPv4, or [IPv6]
    path             := path-component ["/" path-component]*
    path-component   := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest           := algorithm ":" hex

Normalisation: the first path component is a domain only if it contains a
``.`` or a ``:``, is ``localhost``, or has upper case letters; otherwise the
domain is ``docker.io``, and a single component on Docker Hub gets the
``library/`` namespace (``busybox`` → ``docker.io/library/busybox``).
``index.docker.io`` is spelled ``docker.io``. A bare 64-hex string is an image
ID, never a name (``is_digest_id``).

Errors are ``InvalidArgument`` with Docker's words ("invalid reference format",
"invalid reference format: repository name (library/Busybox) must be lowercase").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hull.errors import InvalidArgument
from hull.oci.digest import ALGORITHMS, Digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH}"

# re.ASCII: Go's \w is [0-9A-Za-z_]; always used with fullmatch (Go's ^…$).
_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_NAME_RE = re.compile(rf"(?:({_DOMAIN})/)?({_PATH})", re.ASCII)
_DOMAIN_RE = re.compile(_DOMAIN, re.ASCII)
_PATH_RE = re.compile(_PATH, re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_HEX = frozenset("0123456789abcdef")


def _invalid(detail: str | None = None) -> InvalidArgument:
    if detail is None:
        return InvalidArgument("invalid reference format")
    return InvalidArgument(f"invalid reference format: {detail}")


def _parse_digest(value: str) -> Digest:
    """``go-digest``'s ``Parse``, with its error words."""
    algorithm, _, hex_ = value.partition(":")
    length = ALGORITHMS.get(algorithm)
    if length is None:
        raise InvalidArgument(f"unsupported digest algorithm: {value}")
    if len(hex_) != length:
        raise InvalidArgument(f"invalid checksum digest length: {value}")
    if not _HEX.issuperset(hex_):
        raise InvalidArgument(f"invalid checksum digest format: {value}")
    return Digest(algorithm, hex_)


@dataclass(frozen=True, slots=True)
class Reference:
    """A validated, normalised image reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if not _DOMAIN_RE.fullmatch(self.domain) or not _PATH_RE.fullmatch(self.path):
            raise _invalid()
        if len(self.path) > NAME_TOTAL_LENGTH_MAX:
            raise InvalidArgument(
                f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
            )
        if self.tag is not None and not _TAG_RE.fullmatch(self.tag):
            raise InvalidArgument(f"invalid tag format: '{self.tag}'")

    @property
    def name(self) -> str:
        """``domain/path``: the repository, without tag or digest."""
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        s = self.name
        if self.tag is not None:
            s += ":" + self.tag
        if self.digest is not None:
            s += f"@{self.digest}"
        return s

    def familiar_name(self) -> str:
        """The repository as ``docker images`` shows it (``busybox``, ``user/app``)."""
        return familiar_name(self.name)

    def familiar(self) -> str:
        """The whole reference in familiar form (``busybox:latest``)."""
        s = self.familiar_name()
        if self.tag is not None:
            s += ":" + self.tag
        if self.digest is not None:
            s += f"@{self.digest}"
        return s

    def with_tag(self, tag: str) -> Reference:
        """This reference with ``tag`` (keeps a digest, as ``WithTag`` does)."""
        return Reference(self.domain, self.path, tag, self.digest)

    def with_digest(self, digest: Digest) -> Reference:
        """This reference with ``digest`` (keeps a tag, as ``WithDigest`` does)."""
        return Reference(self.domain, self.path, self.tag, digest)

    def without_tag(self) -> Reference:
        """This reference without its tag (``ParseDockerRef`` for ``name:tag@digest``)."""
        return Reference(self.domain, self.path, None, self.digest)

    def trimmed(self) -> Reference:
        """The repository alone, without tag or digest."""
        return Reference(self.domain, self.path)

    def is_name_only(self) -> bool:
        """Neither tag nor digest."""
        return self.tag is None and self.digest is None


def familiar_name(name: str) -> str:
    """Strip ``docker.io/library/`` (one component left) or ``docker.io/``."""
    if not name.startswith(DEFAULT_DOMAIN + "/"):
        return name
    path = name[len(DEFAULT_DOMAIN) + 1 :]
    if path.startswith(OFFICIAL_REPO_PREFIX):
        rest = path[len(OFFICIAL_REPO_PREFIX) :]
        if "/" not in rest:
            return rest
    return path


def _split_docker_domain(name: str) -> tuple[str, str]:
    """``splitDockerDomain``: the domain (``docker.io`` if none) and the rest."""
    first, sep, rest = name.partition("/")
    if not sep:
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if first == "localhost":
        domain, remainder = first, rest
    elif first == LEGACY_DEFAULT_DOMAIN:
        domain, remainder = DEFAULT_DOMAIN, rest
    elif "." in first or ":" in first or first.lower() != first:
        # Looks like a host (example.com, 127.0.0.1, host:5000, [::1]:5000), or
        # has upper case, which a namespace may not: Docker takes it as a domain.
        domain, remainder = first, rest
    else:
        domain, remainder = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def _parse(s: str) -> Reference:
    """``reference.Parse`` on a string that carries a domain."""
    m = _REFERENCE_RE.fullmatch(s)
    if m is None:
        lowered = s.lower()
        if lowered != s and _REFERENCE_RE.fullmatch(lowered):
            raise _invalid("repository name must be lowercase")
        raise _invalid()
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    nm = _NAME_RE.fullmatch(name)
    if nm is None or nm.group(1) is None:  # pragma: no cover - callers add a domain
        raise _invalid()
    domain, path = nm.group(1), nm.group(2)
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(
            f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )
    return Reference(domain, path, tag, _parse_digest(digest) if digest else None)


def parse_normalized_named(s: str) -> Reference:
    """``ParseNormalizedNamed``: a familiar or full name to a full reference, no default tag."""
    if not isinstance(s, str):
        raise _invalid()
    if _IDENTIFIER_RE.fullmatch(s):
        raise InvalidArgument(
            f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_docker_domain(s)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise _invalid(f"repository name ({remote}) must be lowercase")
    return _parse(f"{domain}/{remainder}")


def parse_reference(s: str, default_tag: str | None = DEFAULT_TAG) -> Reference:
    """Parse and normalise ``s``; add ``default_tag`` when it has neither tag nor digest."""
    ref = parse_normalized_named(s)
    if default_tag is not None and ref.is_name_only():
        ref = ref.with_tag(default_tag)
    return ref


def is_digest_id(s: str) -> bool:
    """A full image ID: 64 lower-case hex digits, bare or as ``sha256:<hex>``."""
    if s.startswith("sha256:"):
        s = s[7:]
    return bool(_IDENTIFIER_RE.fullmatch(s))


def parse_any_reference(s: str, default_tag: str | None = DEFAULT_TAG) -> Reference | Digest:
    """``ParseAnyReference``: a 64-hex ID or a digest gives a ``Digest``, else a reference."""
    if _IDENTIFIER_RE.fullmatch(s):
        return Digest("sha256", s)
    algorithm, sep, hex_ = s.partition(":")
    if sep and len(hex_) == ALGORITHMS.get(algorithm) and _HEX.issuperset(hex_):
        return Digest(algorithm, hex_)
    return parse_reference(s, default_tag)


__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "NAME_TOTAL_LENGTH_MAX",
    "Reference",
    "familiar_name",
    "is_digest_id",
    "parse_any_reference",
    "parse_normalized_named",
    "parse_reference",
]
