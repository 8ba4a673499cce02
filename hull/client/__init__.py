"""A typed client of the Docker Engine API over a unix socket (or TCP).

Used by the ``hull`` CLI and the tests; talks to hulld or any dockerd.
Never imports the engine: the socket is the only way in.
"""

from __future__ import annotations

from .client import CLIENT_API_VERSION, Client, Hijacked, Ping, Reply, encode_params, quote_segment
from .errors import error_for_status, message_of
from .transport import DEFAULT_HOST, parse_host, resolve_host

__all__ = [
    "CLIENT_API_VERSION",
    "DEFAULT_HOST",
    "Client",
    "Hijacked",
    "Ping",
    "Reply",
    "encode_params",
    "error_for_status",
    "message_of",
    "parse_host",
    "quote_segment",
    "resolve_host",
]
