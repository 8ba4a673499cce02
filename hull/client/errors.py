"""HTTP status and Docker's ``{"message": ...}`` → the ``hull.errors`` kind.

The inverse of ``hull.api.errors``:

    404 NotFound   409 Conflict   400 InvalidArgument   401 Unauthorized
    412 FailedPrecondition        503 Unavailable        500 Internal
    anything else ≥ 400: HullError
"""

from __future__ import annotations

from hull.errors import (
    Conflict,
    FailedPrecondition,
    HullError,
    Internal,
    InvalidArgument,
    NotFound,
    Unauthorized,
    Unavailable,
)
from hull.oci import fastjson as json

ERROR_BY_STATUS: dict[int, type[HullError]] = {
    400: InvalidArgument,
    401: Unauthorized,
    404: NotFound,
    409: Conflict,
    412: FailedPrecondition,
    500: Internal,
    503: Unavailable,
}


def message_of(body: bytes, reason: str = "") -> str:
    """Docker's error message from a response body (JSON or plain text)."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        doc = json.loads(text)
    except ValueError:
        return text or reason
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])
    return text or reason


def error_for_status(status: int, body: bytes, reason: str = "") -> HullError:
    """The exception a response with this status and body stands for."""
    cls = ERROR_BY_STATUS.get(status, HullError)
    return cls(message_of(body, reason) or f"HTTP {status}")


def cannot_connect(host: str, exc: OSError) -> HullError:
    """Unavailable (no socket, nobody listening) or Unauthorized (socket mode)."""
    if isinstance(exc, PermissionError):
        return Unauthorized(
            f"permission denied while trying to connect to the hull daemon socket at {host}"
        )
    return Unavailable(f"Cannot connect to the hull daemon at {host}. Is hulld running?")


__all__ = ["ERROR_BY_STATUS", "cannot_connect", "error_for_status", "message_of"]
