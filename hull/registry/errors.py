"""The registry's errors: the distribution spec's codes and Docker's error JSON.

Every failure a route can answer is a ``RegistryError`` carrying one of the
codes of the distribution spec's table (plus distribution's ``RANGE_INVALID``
and ``PAGINATION_NUMBER_INVALID``); the code fixes the HTTP status. The body
is Docker's shape::

    {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry",
                 "detail": "sha256:…"}]}

A ``RegistryError`` is an ``InvalidArgument``/``NotFound``/… of hull's
hierarchy too (by its status), so code below the routes may raise either.
"""

from __future__ import annotations

import json
from typing import Any

from hull.errors import (
    FailedPrecondition,
    HullError,
    InvalidArgument,
    NotFound,
    Unauthorized,
    Unavailable,
)

# code -> (HTTP status, distribution's message)
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "RANGE_INVALID": (416, "invalid content range"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
}


class RegistryError(HullError):
    """One error of the spec's table, answered as Docker's error JSON."""

    def __init__(
        self,
        code: str,
        detail: Any = None,
        *,
        message: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_status, default_message = CODES[code]
        super().__init__(message or default_message)
        self.code = code
        self.detail = detail
        self.status = status or default_status
        self.headers = dict(headers or {})

    def to_json(self) -> dict[str, Any]:
        """The ``{"errors": [...]}`` document."""
        entry: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return {"errors": [entry]}

    def body(self) -> bytes:
        """The JSON body, newline-terminated."""
        return (json.dumps(self.to_json(), separators=(",", ":")) + "\n").encode()


def from_hull_error(exc: HullError) -> RegistryError:
    """Map an error of a lower layer (content store, oci parsing) to the spec's code."""
    if isinstance(exc, RegistryError):
        return exc
    if isinstance(exc, NotFound):
        return RegistryError("BLOB_UNKNOWN", exc.message)
    if isinstance(exc, InvalidArgument):
        return RegistryError("BLOB_UPLOAD_INVALID", exc.message)
    if isinstance(exc, Unauthorized):
        return RegistryError("UNAUTHORIZED", exc.message)
    if isinstance(exc, Unavailable | FailedPrecondition):
        return RegistryError("UNSUPPORTED", exc.message, status=503)
    return RegistryError("UNSUPPORTED", exc.message, status=500, message="internal error")


__all__ = ["CODES", "RegistryError", "from_hull_error"]
