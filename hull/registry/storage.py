"""Registry storage: repositories of links over one shared content store.

Layout under ``root``::

    content/                                  hull.content.LocalStore (blobs, ingests)
    repositories/<name>/_layers/<alg>/<hex>   the repository may serve this blob
    repositories/<name>/_manifests/revisions/<alg>/<hex>
                                              {"mediaType", "size", "subject"?}
    repositories/<name>/_manifests/tags/<tag> "<alg>:<hex>"
    repositories/<name>/_manifests/referrers/<alg>/<hex>/<alg>-<hex>
                                              descriptor of a manifest whose subject
                                              is <alg>:<hex>
    repositories/<name>/_uploads/<uuid>/      in-progress uploads (see uploads.py)
    gc.lock                                   shared by users of a blob, exclusive
                                              while gc.py unlinks one

Blobs (layers, configs and the manifests' own bytes) live once in
``content/``; a repository refers to them through link files. Every file is
written atomically (temp, fsync, rename, fsync dir) and in an order that
never exposes a dangling reference: blob, then revision link, then tag.
Paths are built only from validated names (``names.py``), tags and
``Digest`` values.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hull.content import LocalStore
from hull.errors import InvalidArgument, NotFound
from hull.oci import media_types as mt
from hull.oci.digest import ALGORITHMS, Digest, digest_bytes
from hull.oci.image_spec import (
    MAX_MANIFEST_SIZE,
    SCHEMA1_MESSAGE,
    Index,
    Manifest,
    parse_manifest_or_index,
)
from hull.registry.errors import RegistryError
from hull.registry.names import validate_name, validate_tag

ACCEPTED_MANIFEST_TYPES = frozenset(mt.MANIFEST_TYPES | mt.INDEX_TYPES)


def fsync_dir(path: Path) -> None:
    """fsync a directory so that a rename in it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp in the same dir, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}-{os.getpid()}-{time.monotonic_ns()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    os.close(fd)
    os.rename(tmp, path)
    fsync_dir(path.parent)


def _digest_path(base: Path, digest: Digest) -> Path:
    return base / digest.algorithm / digest.hex


def _iter_digests(base: Path) -> Iterator[Digest]:
    for algorithm in ALGORITHMS:
        try:
            names = os.listdir(base / algorithm)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            try:
                yield Digest(algorithm, name)
            except InvalidArgument:
                continue


@dataclass(frozen=True)
class StoredManifest:
    """A manifest as stored: its digest, media type and size."""

    digest: Digest
    media_type: str
    size: int
    subject: Digest | None = None


class RegistryStorage:
    """Repositories, tags, manifests and blob links over one ``LocalStore``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.content = LocalStore(self.root / "content")
        self.repos = self.root / "repositories"
        self.repos.mkdir(exist_ok=True)
        self.gc_lock_path = self.root / "gc.lock"
        self.gc_lock_path.touch(exist_ok=True)

    # ------------------------------------------------------------- repositories

    def repo_path(self, name: str) -> Path:
        """The directory of repository ``name`` (validated; may not exist)."""
        return self.repos / validate_name(name)

    def repo_exists(self, name: str) -> bool:
        """Whether anything was ever pushed to ``name``."""
        p = self.repo_path(name)
        return (p / "_manifests").is_dir() or (p / "_layers").is_dir()

    def catalog(self) -> list[str]:
        """Every repository holding at least one manifest, sorted."""
        out: list[str] = []
        for dirpath, dirnames, _ in os.walk(self.repos):
            if "_manifests" in dirnames:
                out.append(os.path.relpath(dirpath, self.repos))
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
        return sorted(n for n in out if n != ".")

    # -------------------------------------------------------------------- blobs

    @contextlib.contextmanager
    def gc_shared(self) -> Iterator[None]:
        """Hold the gc lock shared: gc.py cannot unlink a blob meanwhile."""
        fd = os.open(self.gc_lock_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def touch_blob(self, digest: Digest) -> bool:
        """Mark a blob as just used (mtime now) so that gc spares it; False if absent."""
        with self.gc_shared():
            try:
                os.utime(self.content.path(digest))
            except FileNotFoundError:
                return False
        return True

    def has_blob(self, name: str, digest: Digest) -> bool:
        """Whether ``name`` may serve ``digest`` (a layer, config or manifest it holds)."""
        link = _digest_path(self.repo_path(name) / "_layers", digest)
        linked = link.exists() or self.has_manifest(name, digest)
        return linked and self.content.exists(digest)

    def blob_path(self, name: str, digest: Digest) -> Path:
        """The file of a blob that ``name`` may serve; BLOB_UNKNOWN otherwise."""
        if not self.has_blob(name, digest):
            raise RegistryError("BLOB_UNKNOWN", str(digest))
        return self.content.path(digest)

    def link_blob(self, name: str, digest: Digest) -> None:
        """Let ``name`` serve ``digest`` (idempotent)."""
        link = _digest_path(self.repo_path(name) / "_layers", digest)
        if not link.exists():
            atomic_write(link, str(digest).encode())

    def unlink_blob(self, name: str, digest: Digest) -> None:
        """Stop ``name`` serving ``digest``; the bytes go at the next gc."""
        link = _digest_path(self.repo_path(name) / "_layers", digest)
        try:
            link.unlink()
        except FileNotFoundError:
            raise RegistryError("BLOB_UNKNOWN", str(digest)) from None

    def linked_blobs(self, name: str) -> list[Digest]:
        """Every blob linked into ``name``."""
        return list(_iter_digests(self.repo_path(name) / "_layers"))

    # ---------------------------------------------------------------- manifests

    def _manifests(self, name: str) -> Path:
        return self.repo_path(name) / "_manifests"

    def resolve(self, name: str, ref: str | Digest) -> StoredManifest:
        """The stored manifest for a tag or digest; MANIFEST_UNKNOWN if none."""
        if isinstance(ref, Digest):
            digest = ref
        else:
            tag_file = self._manifests(name) / "tags" / validate_tag(ref)
            try:
                digest = Digest.parse(tag_file.read_text().strip())
            except FileNotFoundError:
                raise RegistryError("MANIFEST_UNKNOWN", {"tag": ref}) from None
        rev = _digest_path(self._manifests(name) / "revisions", digest)
        try:
            meta = json.loads(rev.read_bytes())
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", {"digest": str(digest)}) from None
        subject = meta.get("subject")
        return StoredManifest(
            digest, meta["mediaType"], int(meta["size"]), Digest.parse(subject) if subject else None
        )

    def read_manifest(self, name: str, ref: str | Digest) -> tuple[StoredManifest, bytes]:
        """The stored manifest and its bytes, exactly as pushed."""
        info = self.resolve(name, ref)
        try:
            with self.content.open(info.digest) as f:
                data = f.read()
        except NotFound:
            raise RegistryError("MANIFEST_UNKNOWN", {"digest": str(info.digest)}) from None
        return info, data

    def has_manifest(self, name: str, digest: Digest) -> bool:
        """Whether ``name`` holds the manifest ``digest``."""
        return _digest_path(self._manifests(name) / "revisions", digest).exists()

    def put_manifest(
        self, name: str, ref: str | Digest, data: bytes, content_type: str | None
    ) -> StoredManifest:
        """Verify and store a manifest exactly as sent; tag it if ``ref`` is a tag."""
        media_type = self._media_type(data, content_type)
        try:
            parsed = parse_manifest_or_index(data, media_type)
        except InvalidArgument as exc:
            if "schema 1" in exc.message:
                raise RegistryError(
                    "MANIFEST_INVALID", exc.message, message=SCHEMA1_MESSAGE
                ) from None
            raise RegistryError("MANIFEST_INVALID", exc.message) from None
        algorithm = ref.algorithm if isinstance(ref, Digest) else "sha256"
        digest = digest_bytes(data, algorithm)
        if isinstance(ref, Digest) and digest != ref:
            raise RegistryError("DIGEST_INVALID", f"the manifest's digest is {digest}, not {ref}")
        self._check_references(name, parsed)
        self.content.ingest(io.BytesIO(data), digest, len(data))
        self.touch_blob(digest)
        subject = parsed.subject.digest if parsed.subject is not None else None
        meta: dict[str, Any] = {"mediaType": media_type, "size": len(data)}
        if subject is not None:
            meta["subject"] = str(subject)
        manifests = self._manifests(name)
        atomic_write(_digest_path(manifests / "revisions", digest), json.dumps(meta).encode())
        if subject is not None:
            self._record_referrer(name, subject, parsed, media_type, digest, len(data))
        if isinstance(ref, str):
            atomic_write(manifests / "tags" / validate_tag(ref), str(digest).encode())
        return StoredManifest(digest, media_type, len(data), subject)

    @staticmethod
    def _media_type(data: bytes, content_type: str | None) -> str:
        if len(data) > MAX_MANIFEST_SIZE:
            raise RegistryError(
                "MANIFEST_INVALID",
                f"manifest too big: {len(data)} bytes (the limit is 4 MiB)",
                status=413,
            )
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if mt.is_schema1(media_type):
            raise RegistryError("MANIFEST_INVALID", SCHEMA1_MESSAGE, message=SCHEMA1_MESSAGE)
        if media_type in ACCEPTED_MANIFEST_TYPES:
            return media_type
        # No usable Content-Type: take the document's own mediaType.
        try:
            obj = json.loads(data)
        except ValueError:
            raise RegistryError("MANIFEST_INVALID", "the manifest is not JSON") from None
        if not isinstance(obj, dict):
            raise RegistryError("MANIFEST_INVALID", "the manifest is not a JSON object")
        inner = obj.get("mediaType")
        if obj.get("schemaVersion") == 1 or (isinstance(inner, str) and mt.is_schema1(inner)):
            raise RegistryError("MANIFEST_INVALID", SCHEMA1_MESSAGE, message=SCHEMA1_MESSAGE)
        if isinstance(inner, str) and inner in ACCEPTED_MANIFEST_TYPES:
            return inner
        if media_type and media_type not in ("application/json", "application/octet-stream"):
            raise RegistryError(
                "MANIFEST_INVALID", f"unsupported manifest media type '{media_type}'"
            )
        if inner is not None:
            raise RegistryError("MANIFEST_INVALID", f"unsupported manifest media type {inner!r}")
        # OCI 1.0 documents may omit mediaType: tell them apart by their fields.
        if "manifests" in obj and "config" not in obj:
            return mt.OCI_INDEX
        return mt.OCI_MANIFEST

    def _check_references(self, name: str, parsed: Manifest | Index) -> None:
        missing: list[str] = []
        if isinstance(parsed, Manifest):
            for desc in (parsed.config, *parsed.layers):
                if desc.urls and mt.is_non_distributable(desc.media_type):
                    continue  # foreign layers are fetched from their URLs
                if not self.has_blob(name, desc.digest) or not self.touch_blob(desc.digest):
                    missing.append(str(desc.digest))
        else:
            for desc in parsed.manifests:
                if not self.has_manifest(name, desc.digest) or not self.touch_blob(desc.digest):
                    missing.append(str(desc.digest))
        if missing:
            raise RegistryError(
                "MANIFEST_BLOB_UNKNOWN", missing[0] if len(missing) == 1 else missing
            )

    def _record_referrer(
        self,
        name: str,
        subject: Digest,
        parsed: Manifest | Index,
        media_type: str,
        digest: Digest,
        size: int,
    ) -> None:
        artifact_type = parsed.artifact_type
        if artifact_type is None and isinstance(parsed, Manifest):
            artifact_type = parsed.config.media_type
        desc: dict[str, Any] = {"mediaType": media_type, "digest": str(digest), "size": size}
        if artifact_type:
            desc["artifactType"] = artifact_type
        if parsed.annotations:
            desc["annotations"] = parsed.annotations
        path = self._referrer_dir(name, subject) / f"{digest.algorithm}-{digest.hex}"
        atomic_write(path, json.dumps(desc).encode())

    def _referrer_dir(self, name: str, subject: Digest) -> Path:
        return _digest_path(self._manifests(name) / "referrers", subject)

    def referrers(self, name: str, subject: Digest, artifact_type: str | None) -> list[Any]:
        """Descriptors of the manifests of ``name`` whose subject is ``subject``."""
        d = self._referrer_dir(name, subject)
        out: list[Any] = []
        try:
            entries = sorted(os.listdir(d))
        except FileNotFoundError:
            return out
        for entry in entries:
            if entry.startswith("."):
                continue
            with contextlib.suppress(FileNotFoundError, ValueError):
                desc = json.loads((d / entry).read_bytes())
                if artifact_type is None or desc.get("artifactType") == artifact_type:
                    out.append(desc)
        return out

    def tags(self, name: str) -> list[str]:
        """The tags of ``name``, sorted; NAME_UNKNOWN if the repository does not exist."""
        if not self.repo_exists(name):
            raise RegistryError("NAME_UNKNOWN", {"name": name})
        try:
            names = os.listdir(self._manifests(name) / "tags")
        except FileNotFoundError:
            return []
        return sorted(n for n in names if not n.startswith("."))

    def delete_tag(self, name: str, tag: str) -> None:
        """Remove a tag (the manifest stays, reachable by digest)."""
        try:
            (self._manifests(name) / "tags" / validate_tag(tag)).unlink()
        except FileNotFoundError:
            raise RegistryError("MANIFEST_UNKNOWN", {"tag": tag}) from None

    def delete_manifest(self, name: str, digest: Digest) -> None:
        """Remove a manifest, every tag pointing at it and its referrer entry."""
        info = self.resolve(name, digest)
        manifests = self._manifests(name)
        for tag in self.tags(name):
            with contextlib.suppress(FileNotFoundError, InvalidArgument):
                if Digest.parse((manifests / "tags" / tag).read_text().strip()) == digest:
                    (manifests / "tags" / tag).unlink()
        if info.subject is not None:
            with contextlib.suppress(FileNotFoundError):
                (
                    self._referrer_dir(name, info.subject) / f"{digest.algorithm}-{digest.hex}"
                ).unlink()
        _digest_path(manifests / "revisions", digest).unlink()

    def all_manifests(self) -> Iterator[tuple[str, Digest]]:
        """Every (repository, manifest digest) of the registry (for gc)."""
        for name in self.catalog():
            for digest in _iter_digests(self._manifests(name) / "revisions"):
                yield name, digest

    def remove_repo_links(self, digests: set[Digest]) -> None:
        """Drop every repository's links to blobs gc removed (one walk)."""
        if not digests:
            return
        for dirpath, dirnames, _ in os.walk(self.repos):
            if "_layers" in dirnames:
                layers = Path(dirpath) / "_layers"
                for digest in digests:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(layers / digest.algorithm / digest.hex)
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]

    def remove_repo(self, name: str) -> None:
        """Delete a whole repository's links (tests and admin use)."""
        shutil.rmtree(self.repo_path(name), ignore_errors=True)


__all__ = [
    "ACCEPTED_MANIFEST_TYPES",
    "RegistryStorage",
    "StoredManifest",
    "atomic_write",
    "fsync_dir",
]
