"""Error kinds → statuses and back through the client's mapping."""

from __future__ import annotations

import json

import pytest

from hull import errors
from hull.api.errors import not_modified, response_for
from hull.client.errors import error_for_status

CASES = [
    (errors.NotFound("no such container: x"), 404, errors.NotFound),
    (errors.AlreadyExists("name in use"), 409, errors.Conflict),
    (errors.Conflict("is running"), 409, errors.Conflict),
    (errors.InvalidArgument("bad"), 400, errors.InvalidArgument),
    (errors.FailedPrecondition("not ready"), 409, errors.Conflict),
    (errors.Unauthorized("denied"), 401, errors.Unauthorized),
    (errors.Unavailable("later"), 503, errors.Unavailable),
    (errors.Internal("bug"), 500, errors.Internal),
    (RuntimeError("boom"), 500, errors.Internal),
]


@pytest.mark.parametrize(("exc", "status", "back"), CASES)
def test_round_trip(exc: Exception, status: int, back: type[errors.HullError]) -> None:
    resp = response_for(exc)
    assert resp.status == status
    doc = json.loads(resp.body)
    assert list(doc) == ["message"]
    assert resp.body.startswith(b'{"message":')
    err = error_for_status(resp.status, resp.body)
    assert type(err) is back
    assert err.message == doc["message"]


def test_not_modified_is_empty_304() -> None:
    r = not_modified()
    assert (r.status, r.body) == (304, b"")


def test_unknown_status_and_plain_body() -> None:
    e = error_for_status(418, b"teapot")
    assert type(e) is errors.HullError and e.message == "teapot"
