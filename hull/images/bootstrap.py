"""Offline base images: busybox from Debian's ``busybox-static``, Debian through ``debootstrap``.

No public registry is reachable from where hull is built and tested, so
its base images are made locally:

* ``bootstrap_busybox`` packs ``/bin/busybox`` with one symlink per applet,
  ``/etc/passwd`` and ``/etc/group`` and the usual empty directories into one
  layer. It is reproducible: entries sorted, owners 0, every mtime (and the
  image's ``created``) is the binary's mtime, gzip with mtime 0, so the same
  binary always gives the same image ID.
* ``bootstrap_debian`` runs ``debootstrap --variant=minbase`` against the
  Debian mirror the host's apt uses (the only one this machine may reach)
  and caches the rootfs tarball as
  ``<data_root>/cache/debootstrap-<suite>-<arch>.tar``; later calls import the
  cached tarball (same tarball, same image ID).

Missing tools are installed with apt-get when running as root; otherwise a
``FailedPrecondition`` says which package to install.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hull.archive import diff_dir
from hull.archive import tarstream as ts
from hull.archive.tarwriter import TarWriter
from hull.errors import FailedPrecondition, Internal
from hull.images.inspect import format_time
from hull.images.service import ImageService
from hull.metadata import ImageRecord
from hull.oci import media_types as mt
from hull.oci.image_spec import Platform, canonical_json

BUSYBOX = Path("/bin/busybox")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_DIRS = {  # directory -> mode
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "proc": 0o555,
    "root": 0o700,
    "sys": 0o555,
    "tmp": 0o1777,
    "usr": 0o755,
    "usr/sbin": 0o755,
    "var": 0o755,
}
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"


def ensure_package(package: str, path: Path) -> None:
    """Install the Debian ``package`` providing ``path`` if ``path`` is missing."""
    if path.exists():
        return
    if os.geteuid() != 0:
        raise FailedPrecondition(
            f"{path} is missing: install Debian's {package} (apt-get install -y {package})"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    res = subprocess.run(
        ["apt-get", "install", "-y", "-q", package], env=env, capture_output=True, text=True
    )
    if res.returncode != 0 or not path.exists():
        raise FailedPrecondition(
            f"could not install {package} (apt-get install -y {package}): {res.stderr.strip()}"
        )


def _busybox_tar(binary: Path, out: io.BufferedIOBase) -> int:
    """Write the busybox rootfs tar to ``out``; return the mtime used."""
    st = binary.stat()
    mtime = int(st.st_mtime)
    applets = subprocess.run(
        [str(binary), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    entries: dict[str, tuple[bytes, dict[str, Any]]] = {}
    for d, mode in _DIRS.items():
        entries[d + "/"] = (ts.DIR, {"mode": mode})
    entries["etc/passwd"] = (ts.REG, {"mode": 0o644, "data": PASSWD})
    entries["etc/group"] = (ts.REG, {"mode": 0o644, "data": GROUP})
    entries["bin/busybox"] = (ts.REG, {"mode": 0o755, "path": binary, "size": st.st_size})
    for a in applets:
        if a != "busybox" and "/" not in a:
            entries.setdefault(f"bin/{a}", (ts.SYM, {"mode": 0o777, "linkname": b"busybox"}))
    w = TarWriter(out)  # type: ignore[arg-type]
    for name in sorted(entries, key=lambda n: n.rstrip("/").split("/")):
        typ, meta = entries[name]
        data = meta.get("data")
        size = len(data) if data is not None else meta.get("size", 0)
        w.add(
            name.encode(),
            typ,
            mode=meta["mode"],
            size=size,
            mtime=mtime,
            linkname=meta.get("linkname", b""),
        )
        if data is not None:
            w.write_data(data)
        elif "path" in meta:
            with open(meta["path"], "rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)
            w.pad(size)
    w.close()
    return mtime


def bootstrap_busybox(
    service: ImageService, reference: str = "busybox:latest", *, binary: Path = BUSYBOX
) -> ImageRecord:
    """Build (or rebuild, identically) the busybox image from ``busybox-static``."""
    ensure_package("busybox-static", binary)
    sha = hashlib.sha256(binary.read_bytes()).hexdigest()
    with tempfile.TemporaryFile(dir=service.data_root) as tar:
        mtime = _busybox_tar(binary, tar)
        tar.seek(0)
        blob = service.add_layer(tar, compress=True)
    created = format_time(mtime)
    config = {
        "architecture": Platform.parse("linux").architecture,
        "config": {"Env": [DEFAULT_PATH], "Cmd": ["sh"]},
        "created": created,
        "history": [
            {
                "created": created,
                "created_by": f"hull bootstrap busybox (busybox sha256:{sha[:12]})",
            }
        ],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [str(blob.diff_id)]},
    }
    return service.create_image(
        canonical_json(config), [blob], tags=[reference], manifest_media_type=mt.OCI_MANIFEST
    )


# -- debian ---------------------------------------------------------------------------


def host_mirror(etc_apt: Path = Path("/etc/apt")) -> str:
    """The Debian mirror the host's apt uses (sources.list and deb822 ``.sources``)."""
    candidates: list[tuple[str, list[str]]] = []
    lists = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*.list"))]
    for path in lists:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    candidates.append((words[1], [words[2]]))
    for path in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        with contextlib.suppress(OSError):
            for para in re.split(r"\n\s*\n", path.read_text()):
                fields: dict[str, str] = {}
                for line in para.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if "deb" in fields.get("types", "").split() and fields.get("enabled") != "no":
                    for uri in fields.get("uris", "").split():
                        candidates.append((uri, fields.get("suites", "").split()))
    for uri, suites in candidates:
        if "security" in uri or not suites:
            continue
        if any(re.fullmatch(r"[a-z]+", s) for s in suites) and "debian" in uri:
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _unmount_under(root: Path) -> None:
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)


def debootstrap_tarball(
    service: ImageService, suite: str, mirror: str | None = None, variant: str = "minbase"
) -> Path:
    """The cached rootfs tarball of ``suite`` (made with debootstrap on first use)."""
    cache_dir = service.data_root / "cache"
    cache_dir.mkdir(exist_ok=True)
    return debootstrap_cached(cache_dir, suite, mirror, variant)


def _arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def debootstrap_path(cache_dir: Path, suite: str, variant: str = "minbase") -> Path:
    """Where the tarball of ``suite`` is cached for this machine's architecture."""
    arch = _arch()
    suffix = "" if variant == "minbase" else f"-{variant}"
    return cache_dir / f"debootstrap-{suite}-{arch}{suffix}.tar"


def debootstrap_cached(
    cache_dir: Path, suite: str, mirror: str | None = None, variant: str = "minbase"
) -> Path:
    """The rootfs tarball of ``suite`` in ``cache_dir``, made with debootstrap if missing.

    Shared by the image service and by ``hull bootstrap debian`` (which builds
    the rootfs on the client side and imports it through the daemon).
    """
    cache = debootstrap_path(cache_dir, suite, variant)
    if cache.exists():
        return cache
    arch = _arch()
    ensure_package("debootstrap", Path("/usr/sbin/debootstrap"))
    url = mirror or host_mirror()
    work = Path(tempfile.mkdtemp(prefix="tmp-debootstrap-", dir=cache_dir))
    try:
        res = subprocess.run(
            ["debootstrap", f"--variant={variant}", f"--arch={arch}", suite, str(work / "root"),
             url],
            capture_output=True,
            text=True,
        )  # fmt: skip
        _unmount_under(work)
        if res.returncode != 0:
            tail = "\n".join((res.stdout + res.stderr).strip().splitlines()[-5:])
            raise Internal(f"debootstrap {suite} from {url} failed:\n{tail}")
        # the apt lists and caches are not part of an image (as Docker's debian image)
        for junk in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for p in (work / "root" / junk).glob("*"):
                if p.is_file() and p.name != "lock":
                    p.unlink()
        tmp = work / "rootfs.tar"
        with open(tmp, "wb") as out:
            diff_dir(work / "root", out, format="none")
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, cache)
    finally:
        _unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
    return cache


def bootstrap_debian(
    service: ImageService,
    suite: str = "bookworm",
    reference: str | None = None,
    mirror: str | None = None,
    variant: str = "minbase",
) -> ImageRecord:
    """``debian:<suite>`` from a (cached) debootstrap rootfs, as one uncompressed layer."""
    cache = debootstrap_tarball(service, suite, mirror, variant)
    with open(cache, "rb") as f:
        blob = service.add_layer(f)
    created = format_time(int(cache.stat().st_mtime))
    config = {
        "architecture": Platform.parse("linux").architecture,
        "config": {"Env": [DEFAULT_PATH], "Cmd": ["bash"]},
        "created": created,
        "history": [{"created": created, "created_by": f"debootstrap --variant={variant} {suite}"}],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [str(blob.diff_id)]},
    }
    return service.create_image(
        canonical_json(config),
        [blob],
        tags=[reference or f"debian:{suite}"],
        manifest_media_type=mt.OCI_MANIFEST,
    )


__all__ = [
    "BUSYBOX",
    "DEFAULT_PATH",
    "bootstrap_busybox",
    "bootstrap_debian",
    "debootstrap_cached",
    "debootstrap_path",
    "debootstrap_tarball",
    "ensure_package",
    "host_mirror",
]
