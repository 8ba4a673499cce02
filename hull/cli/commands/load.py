"""``hull load [-i FILE] [-q]``: images from a tar archive or STDIN, as ``docker load``.

Also the upload helper the verbs that send a tarball share (``import``,
``bootstrap``): the file is streamed with chunked encoding, never read
whole, and the daemon's JSON-lines answer is printed as the docker CLI's
``jsonmessage`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from typing import IO, Any
from urllib.parse import urlencode

from hull.errors import HullError

NEEDS_DAEMON = True
CHUNK = 1 << 20


class StreamError(HullError):
    """An error the daemon reported inside a JSON-lines answer (printed without prefix)."""


def upload(
    client: Any,
    path: str,
    query: Sequence[tuple[str, str]],
    body: IO[bytes] | None,
    content_type: str = "application/x-tar",
) -> Iterator[dict[str, Any]]:
    """POST ``body`` (streamed; None: no body) to ``path``; the JSON messages of the answer."""
    from hull.client.errors import cannot_connect, error_for_status
    from hull.client.transport import open_connection

    url = client.url(path) + (f"?{urlencode(list(query))}" if query else "")
    conn = open_connection(client.host, None)
    conn.blocksize = CHUNK  # the file is read and sent in pieces this big
    try:
        try:
            if body is None:
                conn.request("POST", url, headers={"Content-Length": "0"})
            else:
                headers = {"Content-Type": content_type}
                conn.request("POST", url, body=body, headers=headers, encode_chunked=True)
        except (FileNotFoundError, ConnectionRefusedError, PermissionError) as exc:
            raise cannot_connect(client.host, exc) from exc
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon refused before reading it all: its answer says why
        resp = conn.getresponse()
        if resp.status >= 400:
            raise error_for_status(resp.status, resp.read(), resp.reason)
        for line in resp:
            if line.strip():
                yield json.loads(line)
    finally:
        conn.close()


def show(messages: Iterator[dict[str, Any]]) -> list[str]:
    """Print messages as ``jsonmessage`` does; the ``status`` values; StreamError on error."""
    statuses: list[str] = []
    out = sys.stdout
    for msg in messages:
        if msg.get("errorDetail") or msg.get("error"):
            detail = msg.get("errorDetail") or {}
            raise StreamError(str(detail.get("message") or msg.get("error")))
        if "stream" in msg:
            out.write(str(msg["stream"]))
        elif "status" in msg:
            status = str(msg["status"])
            statuses.append(status)
            prefix = f"{msg['id']}: " if msg.get("id") else ""
            progress = f" {msg['progress']}" if msg.get("progress") else ""
            out.write(f"{prefix}{status}{progress}\n")
        out.flush()
    return statuses


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-i", "--input", help="read from tar archive file, instead of STDIN")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress the load output")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(sub.add_parser("load", help="Load an image from a tar archive or STDIN"))


def run(args: argparse.Namespace, client: Any) -> int:
    if not args.input and sys.stdin.isatty():
        print("requested load from stdin, but stdin is empty", file=sys.stderr)
        return 1
    quiet = args.quiet or not sys.stdout.isatty()
    query = [("quiet", "1" if quiet else "0")]
    try:
        if args.input:
            with open(args.input, "rb") as f:
                show(upload(client, "/images/load", query, f))
        else:
            show(upload(client, "/images/load", query, sys.stdin.buffer))
    except StreamError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    except OSError as exc:
        if exc.filename is None:
            raise
        print(f"open {exc.filename}: {(exc.strerror or str(exc)).lower()}", file=sys.stderr)
        return 1
    return 0
