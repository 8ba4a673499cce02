"""The one exception hierarchy of hull.

Every failure a user can see is a ``HullError`` of one kind; the kind decides
the HTTP status in the API (``api/errors.py``) and the client maps it back.
Messages name the object and say what to do: "no such image: busybox:1.36".

    HullError
    ├── NotFound            (also LookupError)      404
    ├── AlreadyExists                               409
    ├── InvalidArgument     (also ValueError)       400
    ├── Conflict                                    409
    ├── FailedPrecondition                          412 / 409
    ├── Unavailable                                 503
    ├── Unauthorized        (also PermissionError)  401
    └── Internal                                    500

This module is imported on the runtime's hot path: it must import nothing.
"""

from __future__ import annotations


class HullError(Exception):
    """Root of every error hull raises on purpose."""

    kind = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(HullError, LookupError):
    """The named object does not exist."""

    kind = "not_found"


class AlreadyExists(HullError):
    """An object of that name or id exists already."""

    kind = "already_exists"


class InvalidArgument(HullError, ValueError):
    """The request or a file is malformed; the message names the field."""

    kind = "invalid_argument"


class Conflict(HullError):
    """The object is in a state that forbids the operation."""

    kind = "conflict"


class FailedPrecondition(HullError):
    """The system is not in a state in which the operation can run."""

    kind = "failed_precondition"


class Unavailable(HullError):
    """A service or resource cannot be reached now; retrying may help."""

    kind = "unavailable"


class Unauthorized(HullError, PermissionError):
    """Credentials are missing or insufficient."""

    kind = "unauthorized"


class Internal(HullError):
    """A bug or an unexpected kernel answer."""

    kind = "internal"


class ContainerExit(HullError):
    """The container process could not be started; carries Docker's exit code.

    126: the command exists but cannot be invoked; 127: it was not found.
    """

    kind = "invalid_argument"

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


__all__ = [
    "AlreadyExists",
    "Conflict",
    "ContainerExit",
    "FailedPrecondition",
    "HullError",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "Unauthorized",
    "Unavailable",
]
