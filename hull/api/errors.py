"""Error kinds ↔ HTTP statuses, and Docker's error body ``{"message": "..."}``.

    NotFound                    404
    AlreadyExists, Conflict     409
    InvalidArgument             400   (ContainerExit too: its kind)
    FailedPrecondition          409   (Docker answers conflicts of state with 409)
    Unauthorized                401
    Unavailable                 503
    anything else               500

"Already started" / "already stopped" are not errors in Docker: a route
returns ``not_modified()`` (304, empty body) for them.
The client maps statuses back with ``error_for_status`` (``hull.client``).
"""

from __future__ import annotations

import json

from hull.errors import HullError

from .http import Response, empty_response

STATUS_BY_KIND = {
    "not_found": 404,
    "already_exists": 409,
    "conflict": 409,
    "invalid_argument": 400,
    "failed_precondition": 409,
    "unauthorized": 401,
    "unavailable": 503,
    "internal": 500,
}


def status_for(exc: BaseException) -> int:
    """The HTTP status Docker would answer for this error."""
    if isinstance(exc, HullError):
        return STATUS_BY_KIND.get(exc.kind, 500)
    return 500


def error_body(message: str) -> bytes:
    """Docker's error document: ``{"message":"..."}`` and a newline."""
    doc = json.dumps({"message": message}, ensure_ascii=False, separators=(",", ":"))
    return (doc + "\n").encode()


def error_response(status: int, message: str) -> Response:
    """An error answer in Docker's shape."""
    return Response(status, error_body(message), "application/json")


def response_for(exc: BaseException) -> Response:
    """The response for an exception a route raised."""
    message = exc.message if isinstance(exc, HullError) else f"{type(exc).__name__}: {exc}"
    return error_response(status_for(exc), message)


def not_modified() -> Response:
    """304 with no body: the container is already started/stopped (Docker's answer)."""
    return empty_response(304)


__all__ = [
    "STATUS_BY_KIND",
    "error_body",
    "error_response",
    "not_modified",
    "response_for",
    "status_for",
]
