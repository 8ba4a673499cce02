"""``docker push``: an image of the store to a registry, blobs first, then the manifest.

One push::

    resolve the image ─► the manifest to send: the bytes it was pulled as (same registry
    and repository, blob still stored), else the manifest ``create_image`` stored ─► per
    blob, ``concurrency`` at a time: HEAD (exists: "Layer already exists") ─► cross-repo
    mount from a repository of the same registry known to hold it (pulled or pushed from
    there, or another name of the image): "Mounted from x" ─► else upload: one PUT below
    ``monolithic_limit``, else PATCH chunks with ``Content-Range`` then PUT ``?digest=``
    ─► the config ─► PUT the manifest ─► "<tag>: digest: sha256:… size: N"

Layers go as they are stored (no recompression): a layer that ``add_layer``
kept as a plain tar is pushed with the plain-tar media type its manifest
names (OCI ``…layer.v1.tar`` or Docker's ``…rootfs.diff.tar``), which every
registry and runtime accepts; its digest is already known, so nothing is
read twice. Each request body is bytes in memory (at most one chunk), so
5xx answers and resets are retried.
"""

from __future__ import annotations

import concurrent.futures
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hull.errors import InvalidArgument, NotFound, Unauthorized, Unavailable
from hull.images.reference import Reference, parse_reference
from hull.oci import media_types as mt
from hull.oci.digest import Digest, digest_bytes
from hull.oci.image_spec import Descriptor, Manifest, parse_manifest_or_index

from .credentials import AuthConfig
from .progress import Locked, Progress, Throttle, message, short
from .settings import RegistrySettings
from .sources import Sources
from .transport import RegistryClient, Reply, error_for

if TYPE_CHECKING:
    from hull.images import ImageService

MONOLITHIC_LIMIT = 16 << 20
CHUNK_SIZE = 16 << 20


@dataclass(frozen=True)
class PushResult:
    """The pushed manifest: where, its digest and size."""

    reference: Reference
    digest: Digest
    size: int
    mounted: tuple[Digest, ...] = ()
    uploaded: tuple[Digest, ...] = ()
    existing: tuple[Digest, ...] = ()


class Pusher:
    """One ``push`` (see the module docstring)."""

    def __init__(
        self,
        service: ImageService,
        *,
        settings: RegistrySettings | None = None,
        auth: AuthConfig | None = None,
        progress: Progress | None = None,
        tries: int = 3,
        backoff: float = 0.5,
        timeout: float = 60.0,
        monolithic_limit: int = MONOLITHIC_LIMIT,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.service = service
        self.settings = settings or RegistrySettings()
        self.auth = auth
        self.progress = Throttle(Locked(progress or (lambda _m: None)))
        self.tries = tries
        self.backoff = backoff
        self.timeout = timeout
        self.monolithic_limit = monolithic_limit
        self.chunk_size = chunk_size
        self.mounted: list[Digest] = []
        self.uploaded: list[Digest] = []
        self.existing: list[Digest] = []

    def push(self, name: str | Reference) -> PushResult:
        """Push ``name`` (default tag ``latest``)."""
        ref = name if isinstance(name, Reference) else parse_reference(name)
        if ref.digest is not None:
            raise InvalidArgument("cannot push a digest reference")
        if ref.tag is None:
            ref = ref.with_tag("latest")
        try:
            record = self.service.resolve(str(ref))
        except NotFound:
            raise NotFound(f"An image does not exist locally with the tag: "
                           f"{ref.familiar_name()}") from None  # fmt: skip
        self.progress(message(f"The push refers to repository [{ref.name}]"))
        endpoint = self.settings.push_endpoint(ref.domain)
        client = RegistryClient(endpoint, self.auth, timeout=self.timeout, tries=self.tries,
                                backoff=self.backoff)  # fmt: skip
        self.client, self.ref, self.registry = client, ref, endpoint.host
        sources = self._sources()
        data, media_type = self._manifest_bytes(record.id, record.manifest_digest, sources)
        manifest = parse_manifest_or_index(data, media_type)
        if not isinstance(manifest, Manifest):
            raise InvalidArgument(f"image {record.id}: its stored manifest is an index")
        self._candidates = self._mount_candidates(record.id, sources)
        diff_ids = {layer.digest: layer.diff_id for layer in record.layers if layer.digest}
        layers = list(dict.fromkeys(manifest.layers))
        ids = {d.digest: short(diff_ids.get(d.digest, d.digest)) for d in layers}
        for d in layers:
            self.progress(message("Preparing", ids[d.digest]))
        workers = self.settings.max_concurrent_uploads
        for d in layers[workers:]:
            self.progress(message("Waiting", ids[d.digest]))
        with concurrent.futures.ThreadPoolExecutor(max(1, min(workers, len(layers) or 1))) as pool:
            futs = [pool.submit(self._blob, d, ids[d.digest]) for d in layers]
            for f in concurrent.futures.as_completed(futs):
                f.result()
        self._blob(manifest.config, None)
        tag = str(ref.tag)
        reply = client.request(
            "PUT", f"/v2/{ref.path}/manifests/{tag}", scopes=[self._scope(ref.path, "pull,push")],
            headers={"Content-Type": manifest.media_type or media_type or mt.OCI_MANIFEST},
            body=data,
        )  # fmt: skip
        if reply.status not in (200, 201):
            raise self._error(reply, f"pushing manifest for {ref.familiar()}")
        reply.read()
        digest = digest_bytes(data)
        self.progress(message(f"{tag}: digest: {digest} size: {len(data)}"))
        self.progress({"progressDetail": {},
                       "aux": {"Tag": tag, "Digest": str(digest), "Size": len(data)}})  # fmt: skip
        if sources is not None:
            try:
                for d in (*layers, manifest.config):
                    sources.add_blob(d.digest, endpoint.host, ref.path)
            except Exception:
                pass
        return PushResult(ref, digest, len(data), tuple(self.mounted), tuple(self.uploaded),
                          tuple(self.existing))  # fmt: skip

    # -- helpers ---------------------------------------------------------------------------

    def _sources(self) -> Sources | None:
        try:
            return Sources(self.service.data_root)
        except Exception:
            return None

    @staticmethod
    def _scope(path: str, actions: str) -> str:
        return f"repository:{path}:{actions}"

    def _error(self, reply: Reply, what: str) -> Exception:
        err = error_for(reply, what)
        if isinstance(err, Unauthorized) or reply.status == 404:
            return Unauthorized(
                f"denied: requested access to the resource is denied ({err.message})"
            )
        return err

    def _manifest_bytes(self, image_id: Digest, stored: Digest | None,
                        sources: Sources | None) -> tuple[bytes, str | None]:  # fmt: skip
        content = self.service.content
        candidates: list[tuple[Digest, str | None]] = []
        if sources is not None:
            for _reg, _repo, pulled, kind in sources.manifests(image_id):
                candidates.append((pulled, kind))
        if stored is not None:
            candidates.append((stored, None))
        for digest, media_type in candidates:
            if content.exists(digest):
                with content.open(digest) as f:
                    return f.read(), media_type
        raise NotFound(f"image {image_id}: its manifest is not in the content store")

    def _mount_candidates(self, image_id: Digest, sources: Sources | None) -> list[str]:
        """Other repositories of this registry that the image is named in."""
        out: list[str] = []
        for name in self.service.references(image_id):
            try:
                other = parse_reference(name, default_tag=None)
            except InvalidArgument:
                continue
            same = self.settings.push_endpoint(other.domain).host == self.registry
            if same and other.path != self.ref.path and other.path not in out:
                out.append(other.path)
        return out

    def _blob(self, desc: Descriptor, lid: str | None) -> None:
        client, path = self.client, self.ref.path
        scope = self._scope(path, "pull,push")
        reply = client.request("HEAD", f"/v2/{path}/blobs/{desc.digest}", scopes=[scope])
        if reply.status == 200:
            self.existing.append(desc.digest)
            if lid:
                self.progress(message("Layer already exists", lid))
            return
        location: str | None = None
        for src in self._mount_sources(desc.digest):
            q = urllib.parse.urlencode({"mount": str(desc.digest), "from": src})
            reply = client.request("POST", f"/v2/{path}/blobs/uploads/?{q}",
                                   scopes=[scope, self._scope(src, "pull")])  # fmt: skip
            reply.read()
            if reply.status == 201:
                self.mounted.append(desc.digest)
                if lid:
                    self.progress(message(f"Mounted from {src}", lid))
                return
            if reply.status == 202:
                location = reply.header("location")
                break
        if location is None:
            reply = client.request("POST", f"/v2/{path}/blobs/uploads/", scopes=[scope])
            if reply.status != 202:
                raise self._error(reply, f"starting the upload of {desc.digest}")
            reply.read()
            location = reply.header("location")
            if not location:
                raise Unavailable("registry started an upload without a Location")
        self._upload(desc, location, lid)
        self.uploaded.append(desc.digest)
        if lid:
            self.progress(message("Pushed", lid))

    def _mount_sources(self, digest: Digest) -> list[str]:
        found: list[str] = []
        try:
            found = Sources(self.service.data_root).blob_repositories(digest, self.registry)
        except Exception:
            found = []
        return [r for r in dict.fromkeys([*found, *self._candidates]) if r != self.ref.path]

    def _target(self, location: str, extra: dict[str, str] | None = None) -> str:
        """An upload ``Location`` as a path on the endpoint, with ``extra`` query values."""
        u = urllib.parse.urlsplit(location)
        if u.netloc and u.netloc != self.client.endpoint.host:
            raise Unavailable(f"registry sent the upload to another host ({u.netloc})")
        query = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
        query += list((extra or {}).items())
        return u.path + (f"?{urllib.parse.urlencode(query)}" if query else "")

    def _upload(self, desc: Descriptor, location: str, lid: str | None) -> None:
        client, scope = self.client, self._scope(self.ref.path, "pull,push")
        total = desc.size
        with self.service.content.open(desc.digest) as f:
            if total <= self.monolithic_limit:
                body = f.read()
                if lid:
                    self.progress.bytes("Pushing", lid, 0, total)
                reply = client.request(
                    "PUT", self._target(location, {"digest": str(desc.digest)}), scopes=[scope],
                    headers={"Content-Type": "application/octet-stream"}, body=body,
                )  # fmt: skip
            else:
                offset = 0
                while offset < total:
                    chunk = f.read(self.chunk_size)
                    if not chunk:
                        raise InvalidArgument(f"blob {desc.digest} is shorter than its size")
                    end = offset + len(chunk) - 1
                    reply = client.request(
                        "PATCH", self._target(location), scopes=[scope], body=chunk,
                        headers={"Content-Type": "application/octet-stream",
                                 "Content-Range": f"{offset}-{end}"},
                    )  # fmt: skip
                    if reply.status != 202:
                        raise self._error(reply, f"uploading {desc.digest}")
                    reply.read()
                    location = reply.header("location") or location
                    offset = end + 1
                    if lid:
                        self.progress.bytes("Pushing", lid, offset, total)
                reply = client.request(
                    "PUT", self._target(location, {"digest": str(desc.digest)}), scopes=[scope]
                )
        if reply.status != 201:
            raise self._error(reply, f"finishing the upload of {desc.digest}")
        reply.read()
        if lid:
            self.progress.bytes("Pushing", lid, total, total)


def push(
    service: ImageService,
    name: str | Reference,
    *,
    auth: AuthConfig | None = None,
    settings: RegistrySettings | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> PushResult:
    """``docker push NAME[:TAG]``: see the module docstring."""
    return Pusher(service, settings=settings, auth=auth, progress=progress, **options).push(name)


__all__ = ["CHUNK_SIZE", "MONOLITHIC_LIMIT", "PushResult", "Pusher", "push"]
