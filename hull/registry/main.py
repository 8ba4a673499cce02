"""``python -m hull.registry serve|gc``: run the registry, collect its garbage.

``start()`` is the embeddable form (tests, ``hull registry serve``): it binds
and returns the running server; ``serve()`` runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from pathlib import Path

from hull.api.http import Limits
from hull.errors import HullError
from hull.registry.app import Registry, RegistryConfig
from hull.registry.gc import DEFAULT_GRACE, collect_garbage
from hull.registry.server import RegistryServer

DEFAULT_ROOT = Path("/var/lib/hull/registry")
DEFAULT_ADDR = "127.0.0.1:5000"


def parse_addr(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``) → (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise HullError(f"invalid --addr {addr!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server TLS context from a certificate chain and its key."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


async def start(
    config: RegistryConfig,
    host: str = "127.0.0.1",
    port: int = 5000,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[RegistryServer, Registry, tuple[str, int]]:
    """Bind and start serving; returns the server, the application and the address."""
    config.tls = ssl_context is not None
    registry = Registry(config)
    server = RegistryServer(registry.handle, Limits(max_body=16 * 1024 * 1024))
    addr = await server.listen(host, port, ssl_context)
    return server, registry, addr


async def _serve(config: RegistryConfig, host: str, port: int, ctx: ssl.SSLContext | None) -> None:
    server, registry, addr = await start(config, host, port, ctx)
    print(f"hull registry listening on {addr[0]}:{addr[1]}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()
    registry.close()


def serve(argv: list[str] | None = None) -> int:
    """Entry point of ``serve`` (and of ``hull registry serve``)."""
    return main(["serve", *(argv or [])])


def main(argv: list[str] | None = None) -> int:
    """``python -m hull.registry``."""
    p = argparse.ArgumentParser(prog="python -m hull.registry")
    sub = p.add_subparsers(dest="verb", required=True)
    s = sub.add_parser("serve", help="run an OCI distribution registry")
    s.add_argument("--addr", default=DEFAULT_ADDR)
    s.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    s.add_argument("--htpasswd", type=Path)
    s.add_argument("--auth-config", type=Path)
    s.add_argument("--tls-cert", type=Path)
    s.add_argument("--tls-key", type=Path)
    s.add_argument("--read-only", action="store_true")
    s.add_argument("--log-level", default="info")
    g = sub.add_parser("gc", help="delete unreferenced blobs (safe while serving)")
    g.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    g.add_argument("--grace", type=float, default=DEFAULT_GRACE, help="seconds (default 3600)")
    g.add_argument("--upload-max-age", type=float, default=24.0, help="hours (default 24)")
    g.add_argument("--dry-run", action="store_true")
    g.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.verb == "gc":
            r = collect_garbage(
                args.root,
                grace=args.grace,
                upload_max_age=args.upload_max_age * 3600,
                dry_run=args.dry_run,
            )
            print(
                f"{len(r.removed)} blobs removed ({r.bytes_freed} bytes), {r.marked} live, "
                f"{r.kept_recent} kept as recent, {len(r.uploads_purged)} uploads purged"
            )
            return 0
        if bool(args.tls_cert) != bool(args.tls_key):
            raise HullError("--tls-cert and --tls-key go together")
        ctx = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
        host, port = parse_addr(args.addr)
        config = RegistryConfig(
            root=args.root,
            htpasswd=args.htpasswd,
            auth_config=args.auth_config,
            read_only=args.read_only,
        )
        asyncio.run(_serve(config, host, port, ctx))
    except (HullError, OSError, ssl.SSLError) as exc:
        print(f"hull registry: {exc}", file=sys.stderr)
        return 1
    return 0


__all__ = ["DEFAULT_ADDR", "DEFAULT_ROOT", "main", "parse_addr", "serve", "start", "tls_context"]
