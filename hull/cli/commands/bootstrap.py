"""``hull bootstrap busybox|debian [NAME]``: offline base images, imported through the daemon.

    hull bootstrap busybox [--binary /bin/busybox] [NAME]        (default busybox:latest)
    hull bootstrap debian [--suite bookworm] [--mirror URL] [NAME] (default debian:SUITE)

The rootfs tarball is built here, in the CLI process, and sent to
``POST /images/create?fromSrc=-`` with the image's ENV and CMD as
``changes``, so this works against any Docker Engine API daemon.

* busybox: Debian's ``busybox-static`` binary with one symlink per applet
  (``hull.images.bootstrap``'s reproducible tar: sorted entries, owners 0,
  every mtime the binary's), so the same binary always gives the same layer.
* debian: ``debootstrap --variant=minbase`` against the mirror the host's
  apt uses, needing root; the rootfs tar is cached as
  ``/var/cache/hull/debootstrap-SUITE-ARCH.tar`` (``~/.cache/hull`` for
  other users), and later runs send the cached tar (same layer).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from hull.errors import FailedPrecondition

from .import_ import import_tarball
from .load import StreamError

NEEDS_DAEMON = True
BUSYBOX = Path("/bin/busybox")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    kinds = p.add_subparsers(dest="kind", metavar="IMAGE", required=True)
    bb = kinds.add_parser("busybox", help="busybox from Debian's busybox-static")
    bb.add_argument("--binary", default=str(BUSYBOX), help="the static busybox to pack")
    bb.add_argument("name", nargs="?", default="busybox:latest", metavar="NAME")
    deb = kinds.add_parser("debian", help="Debian through debootstrap (cached)")
    deb.add_argument("--suite", default="bookworm", help="the Debian release")
    deb.add_argument("--mirror", default=None, help="default: the mirror the host's apt uses")
    deb.add_argument("--variant", default="minbase", help="debootstrap's --variant")
    deb.add_argument("name", nargs="?", default=None, metavar="NAME")
    return p


def add_parser(sub: Any) -> argparse.ArgumentParser:
    return configure(
        sub.add_parser(
            "bootstrap", help="Build an offline base image (busybox, debian) and import it"
        )
    )


def cache_dir() -> Path:
    """Where debootstrap tarballs are kept."""
    if os.geteuid() == 0:
        return Path("/var/cache/hull")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hull"


def busybox(client: Any, name: str, binary: Path) -> str:
    """Pack ``binary`` and import it as ``name``; the image ID."""
    from hull.images.bootstrap import _busybox_tar, ensure_package

    ensure_package("busybox-static", binary)
    sha = hashlib.sha256(binary.read_bytes()).hexdigest()
    with tempfile.TemporaryFile(prefix="hull-busybox-") as tar:
        _busybox_tar(binary, tar)
        tar.seek(0)
        return import_tarball(
            client,
            tar,
            reference=name,
            changes=[f"ENV {DEFAULT_PATH}", 'CMD ["sh"]'],
            message=f"hull bootstrap busybox (busybox sha256:{sha[:12]})",
        )


def debootstrap_tarball(suite: str, mirror: str | None, variant: str) -> Path:
    """The cached rootfs tar of ``suite`` (made with debootstrap on first use)."""
    from hull.images.bootstrap import debootstrap_cached, debootstrap_path

    cache = cache_dir()
    tarball = debootstrap_path(cache, suite, variant)
    if not tarball.exists() and os.geteuid() != 0:
        raise FailedPrecondition(
            f"no cached {tarball.name} in {cache} and debootstrap needs root: "
            "run 'hull bootstrap debian' as root once (it caches in /var/cache/hull)"
        )
    cache.mkdir(parents=True, exist_ok=True)
    return debootstrap_cached(cache, suite, mirror, variant)


def debian(client: Any, name: str, suite: str, mirror: str | None, variant: str) -> str:
    """Import the (cached) debootstrap rootfs as ``name``; the image ID."""
    tarball = debootstrap_tarball(suite, mirror, variant)
    with open(tarball, "rb") as f:
        return import_tarball(
            client,
            f,
            reference=name,
            changes=[f"ENV {DEFAULT_PATH}", 'CMD ["bash"]'],
            message=f"debootstrap --variant={variant} {suite}",
        )


def run(args: argparse.Namespace, client: Any) -> int:
    try:
        if args.kind == "busybox":
            busybox(client, args.name, Path(args.binary))
        else:
            name = args.name or f"debian:{args.suite}"
            debian(client, name, args.suite, args.mirror, args.variant)
    except StreamError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    return 0
