"""``docker pull``: a manifest (through an index, for a platform), its config and layers.

One pull::

    resolve endpoints (mirrors, default registry) ─► GET manifest (Accept: index, list,
    OCI, Docker v2; schema 1 refused), digest verified, size limited ─► index: pick the
    platform, GET that manifest ─► config blob (verified) ─► layers: already in the
    content store ─► "Already exists"; else

      download threads (``max_concurrent_downloads``)   unpackers (two on overlay, else one),
      GET (Range from the spool's end) ─► append to  ─►  layers taken in order ─► read the spool
      the spool (the ingest ``pull-<digest>``)            as it grows ─► ``ImageService.add_layer``
                                                          (inflated; blob and tar hashed together,
                                                          digest and diff ID verified; unpacked on
                                                          its parent) ─► commit the spool (the blob)

    ─► create_image + tag ─► unpack what is left (a layer whose parent was missing)

So layer N+1 downloads while layer N is verified and unpacked, and every
byte is handled once: received into a reused buffer and written to the
spool, read back once by its unpacker, inflated once, hashed once for the
blob's digest and once for the diff ID (side by side, ``PairHasher``: the
two streams share a core at ~1.8x the speed of one after the other),
written once into the snapshot. The spool file itself becomes the blob (a
rename), never copied. On overlay, where a layer is a directory of its
own, two layers unpack at once and each waits for the one below it only
to link on it: when the downloads end first, the last layers do not queue
on one core.

Resume: every downloaded byte lands in the spool first, an ingest named
``pull-<digest>`` (one per blob, so the next pull finds it). A cut, a kill or
Ctrl-C leaves it; the next attempt re-reads those bytes from disk and asks
the registry only for the rest (``Range: bytes=<offset>-``). A blob whose
bytes turn out wrong is discarded, never resumed. Network failures are
retried ``tries`` times with exponential backoff, each retry resuming too.

The whole pull holds one lease, so a concurrent ``gc`` keeps its blobs and
snapshots; a failed pull leaves no image and no committed blob of its own.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from hull import metadata as md
from hull.errors import HullError, InvalidArgument, NotFound, Unauthorized, Unavailable
from hull.images.reference import Reference, parse_reference
from hull.oci import media_types as mt
from hull.oci.digest import Digest, digest_bytes
from hull.oci.image_config import ImageConfig
from hull.oci.image_spec import (
    Descriptor,
    Index,
    Manifest,
    Platform,
    parse_manifest_or_index,
)
from hull.snapshots import compute_chain_id

from .credentials import AuthConfig
from .manifests import (
    Fetched,
    choose_manifest,
    fetch_manifest,
    host_platform,
    platform_match,
)
from .progress import Progress, Pumped, Throttle, message, short
from .settings import Endpoint, RegistrySettings
from .sources import Sources
from .spool import RECV_CHUNK, Abandoned, NetworkCut, Spool, SpoolReader
from .transport import NETWORK_ERRORS, RegistryClient, error_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from hull.images import ImageService, LayerBlob
    from hull.metadata import ImageRecord

CHUNK = 1 << 20
MAX_CONFIG_SIZE = 32 << 20


@dataclass(frozen=True)
class PullResult:
    """What a pull made: the image, the name it got and the manifest digest."""

    image: ImageRecord
    reference: Reference
    manifest_digest: Digest
    updated: bool


def ingest_ref(digest: Digest) -> str:
    """The deterministic ingest of a blob being pulled (a later pull resumes it)."""
    return f"pull-{digest}"


class Puller:
    """One ``pull`` (see the module docstring)."""

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
    ) -> None:
        self.service = service
        self.settings = settings or RegistrySettings()
        self.auth = auth
        # a sink is called by a thread of its own: no transfer waits for it
        self._pump = Pumped(progress) if progress is not None else None
        self.progress = Throttle(self._pump or (lambda _m: None))
        self.tries = tries
        self.backoff = backoff
        self.timeout = timeout
        self.bytes_downloaded = 0

    def client(self, endpoint: Endpoint) -> RegistryClient:
        return RegistryClient(endpoint, self.auth, timeout=self.timeout, tries=self.tries,
                              backoff=self.backoff)  # fmt: skip

    def pull(self, name: str | Reference, platform: Platform | None = None) -> PullResult:
        """Pull ``name`` (default tag ``latest``); the image and whether it changed."""
        try:
            result = self._pull(name, platform)
        except BaseException:
            if self._pump is not None:
                with contextlib.suppress(BaseException):  # the pull's own error is the news
                    self._pump.close()
            raise
        if self._pump is not None:
            self._pump.close()  # every event is out (or the client's error raised)
        return result

    def _pull(self, name: str | Reference, platform: Platform | None) -> PullResult:
        ref = name if isinstance(name, Reference) else parse_reference(name)
        if ref.is_name_only():
            ref = ref.with_tag("latest")
        want = (platform or host_platform()).normalized()
        reference = str(ref.digest) if ref.digest is not None else str(ref.tag)
        client, fetched = self._manifest(ref, reference)
        # after the manifest, as Docker: an unknown name is an error before any progress
        self.progress(message(f"Pulling from {ref.path}", reference))
        top = parse_manifest_or_index(fetched.data, fetched.media_type or None)
        manifest_fetched = fetched
        if isinstance(top, Index):
            desc = choose_manifest(top, want)
            manifest_fetched = fetch_manifest(client, ref, str(desc.digest), desc.digest)
            manifest = parse_manifest_or_index(manifest_fetched.data, desc.media_type or None)
            if not isinstance(manifest, Manifest):
                raise InvalidArgument(f"manifest {desc.digest}: an index inside an index")
        else:
            manifest = top
        config_bytes = self._config(client, ref, manifest.config)
        config = ImageConfig.from_bytes(config_bytes)
        if platform is not None and platform_match(want, config.platform()) == 0:
            raise NotFound(
                f"image with reference {ref.familiar()} was found but does not match the "
                f"specified platform: wanted {want}, actual: {config.platform()}"
            )
        diff_ids = list(config.rootfs.diff_ids)
        if len(diff_ids) != len(manifest.layers):
            raise InvalidArgument(
                f"image {ref.familiar()}: config has {len(diff_ids)} diff IDs but the manifest "
                f"lists {len(manifest.layers)} layers"
            )
        old = self._current(ref)
        with self.service.lease() as lease:
            self.service.put_blob(manifest_fetched.data, lease=lease)
            layers = self._layers(client, ref, manifest, diff_ids, lease)
            tags = [str(ref)] if ref.digest is None else []
            kind = manifest.media_type if manifest.media_type in mt.MANIFEST_TYPES else None
            record = self.service.create_image(
                config_bytes, layers, tags=tags,
                manifest_media_type=kind or mt.OCI_MANIFEST, lease=lease,
            )  # fmt: skip
            self._name_by_digest(ref, fetched.digest, record)
            self.service.unpack(record)
        for lid in self._pending_extract:
            self.progress(message("Extracting", lid, 1, 1))
            self.progress(message("Pull complete", lid))
        self._remember(client.endpoint, ref, manifest, manifest_fetched, record)
        self.progress(message(f"Digest: {fetched.digest}"))
        shown = ref.familiar()
        if old == record.id:
            self.progress(message(f"Status: Image is up to date for {shown}"))
        else:
            self.progress(message(f"Status: Downloaded newer image for {shown}"))
        return PullResult(record, ref, fetched.digest, old != record.id)

    # -- steps -----------------------------------------------------------------------------

    def _manifest(self, ref: Reference, reference: str) -> tuple[RegistryClient, Fetched]:
        last: HullError | None = None
        endpoints = self.settings.endpoints(ref.domain)
        for ep in endpoints:
            client = self.client(ep)
            try:
                return client, fetch_manifest(client, ref, reference, ref.digest)
            except (Unavailable, NotFound, Unauthorized) as exc:
                if not ep.mirror:
                    raise
                last = exc  # a mirror that fails: the next one, then the registry
        assert last is not None
        raise last

    def _config(self, client: RegistryClient, ref: Reference, desc: Descriptor) -> bytes:
        content = self.service.content
        if content.exists(desc.digest):
            with content.open(desc.digest) as f:
                return f.read()
        if desc.size > MAX_CONFIG_SIZE:
            raise InvalidArgument(f"image config {desc.digest} is too big: {desc.size} bytes")
        reply = client.request("GET", f"/v2/{ref.path}/blobs/{desc.digest}",
                               scopes=[f"repository:{ref.path}:pull"])  # fmt: skip
        if reply.status != 200:
            raise error_for(reply, f"fetching image config {desc.digest}")
        data = reply.read(MAX_CONFIG_SIZE)
        if digest_bytes(data, desc.digest.algorithm) != desc.digest:
            raise InvalidArgument(f"image config verification failed for digest {desc.digest}")
        return data

    def _current(self, ref: Reference) -> Digest | None:
        try:
            return self.service.resolve(str(ref)).id
        except (NotFound, InvalidArgument):
            return None

    def _name_by_digest(self, ref: Reference, digest: Digest, record: ImageRecord) -> None:
        # RepoDigests (``name@sha256:…``): ImageService.tag refuses digest names, so the
        # reference goes in through the metadata layer's tag table, as Docker records it.
        md.tag(self.service.db, str(ref.trimmed().with_digest(digest)), record.id)

    def _remember(self, ep: Endpoint, ref: Reference, manifest: Manifest, fetched: Fetched,
                  record: ImageRecord) -> None:  # fmt: skip
        try:
            sources = Sources(self.service.data_root)
            sources.add_manifest(
                record.id,
                ep.host,
                ref.path,
                fetched.digest,
                fetched.media_type or manifest.media_type or mt.OCI_MANIFEST,
            )
            sources.add_blob(manifest.config.digest, ep.host, ref.path)
            for layer in manifest.layers:
                sources.add_blob(layer.digest, ep.host, ref.path)
        except Exception:
            pass

    # -- layers ----------------------------------------------------------------------------
    #
    # Downloads run ``max_concurrent_downloads`` at a time, each into its spool;
    # the unpackers take the layers in order, each as its bytes arrive, so that
    # layer N+1 downloads while layer N is verified and unpacked, and every layer
    # is unpacked in the same pass as its verification (its parent is there, or
    # is being unpacked just before it).

    def _layers(self, client: RegistryClient, ref: Reference, manifest: Manifest,
                diff_ids: list[Digest], lease: str) -> list[LayerBlob]:  # fmt: skip
        self._pending_extract: list[str] = []
        chains: list[Digest] = []
        parent: Digest | None = None
        for d in diff_ids:
            parent = compute_chain_id(parent, d)
            chains.append(parent)
        unique: dict[Digest, int] = {}
        for i, desc in enumerate(manifest.layers):
            unique.setdefault(desc.digest, i)
        known = self._known_layers()
        results: dict[Digest, LayerBlob] = {}
        jobs: list[int] = []
        for digest, i in unique.items():
            lid = short(digest)
            if digest in known and self.service.content.exists(digest):
                results[digest] = known[digest]
                self.progress(message("Already exists", lid))
            else:
                self.progress(message("Pulling fs layer", lid))
                jobs.append(i)
        workers = self.settings.max_concurrent_downloads
        for i in jobs[workers:]:
            self.progress(message("Waiting", short(manifest.layers[i].digest)))
        spools = [
            Spool(manifest.layers[i], self._ingest_data(ingest_ref(manifest.layers[i].digest)))
            for i in jobs
        ]
        snaps = self.service.snapshots
        # unpacked in this pass: a layer whose parent is there, or unpacked just before it
        stacked: dict[int, bool] = {}
        for i in jobs:
            stacked[i] = i == 0 or snaps.has_layer(chains[i - 1]) or stacked.get(i - 1, False)
        # overlay layers unpack side by side (each waits for its parent only to link
        # on it): once the downloads are done, the last layers no longer queue on one core
        unpackers = 2 if snaps.independent_layers and len(jobs) > 1 else 1
        with (
            concurrent.futures.ThreadPoolExecutor(max(1, min(workers, len(jobs) or 1))) as pool,
            concurrent.futures.ThreadPoolExecutor(unpackers, "hull-unpack") as upool,
        ):
            futures = [pool.submit(self._fetch, client, ref, s) for s in spools]
            unpacks: dict[int, concurrent.futures.Future[LayerBlob]] = {}
            try:
                for i, spool in zip(jobs, spools, strict=True):
                    parent = chains[i - 1] if i else None
                    before = unpacks.get(i - 1) if stacked[i] else None
                    unpacks[i] = upool.submit(
                        self._unpack, spool, diff_ids[i],
                        parent if stacked[i] else False, lease,
                        None if before is None else _waiter(before),
                    )  # fmt: skip
                for i, spool in zip(jobs, spools, strict=True):
                    results[spool.desc.digest] = unpacks[i].result()
            finally:
                for spool in spools:
                    spool.abandon()  # an unpacker still waiting for bytes gives up
                concurrent.futures.wait(unpacks.values())
                for fut in futures:
                    fut.cancel()
                concurrent.futures.wait(futures)
                for spool in spools:
                    if spool.writer is not None:
                        spool.writer.close()  # what is on disk stays for the next pull
                    self.bytes_downloaded += spool.received
        return [results[desc.digest] for desc in manifest.layers]

    def _known_layers(self) -> dict[Digest, LayerBlob]:
        from hull.images import LayerBlob

        out: dict[Digest, LayerBlob] = {}
        for record in md.list_images(self.service.db):
            for layer in record.layers:
                if layer.digest is not None and layer.media_type:
                    out[layer.digest] = LayerBlob(layer.digest, layer.diff_id, layer.size,
                                                  layer.media_type, layer.diff_size)  # fmt: skip
        return out

    def _unpack(self, spool: Spool, diff_id: Digest, unpack: Digest | bool | None, lease: str,
                parent_ready: Callable[[], None] | None) -> LayerBlob:  # fmt: skip
        """Verify (and, ``unpack`` on a parent chain or None, unpack) one layer as it arrives."""
        desc = spool.desc
        lid = short(desc.digest)
        content = self.service.content
        try:
            spool.wait_open()
            if spool.existing:  # the same blob, pulled meanwhile
                with content.open(desc.digest) as f:
                    blob = self.service.add_layer(
                        f, media_type=desc.media_type, expected_digest=desc.digest,
                        expected_diff_id=diff_id, lease=lease, unpack_on=unpack,
                        parent_ready=parent_ready,
                    )  # fmt: skip
            else:
                reader = SpoolReader(spool)
                try:
                    # the spool is committed as the blob once the reader has it all
                    blob = self.service.add_layer(
                        cast("BinaryIO", reader), media_type=desc.media_type,
                        expected_digest=desc.digest, expected_diff_id=diff_id, lease=lease,
                        unpack_on=unpack, ingest=spool.writer, parent_ready=parent_ready,
                    )  # fmt: skip
                finally:
                    reader.close()
        except BaseException as exc:
            # InvalidArgument: the bytes are bad (digest, diff ID, codec, tar), never to be
            # resumed; anything else (Ctrl-C, a cut, the API client gone, no space left)
            # keeps what was downloaded for the next pull
            if isinstance(exc, InvalidArgument):
                with spool.cond:
                    spool.cancelled = True
                if spool.writer is not None:
                    spool.writer.close()
                    spool.writer = None
                    with contextlib.suppress(NotFound, OSError):
                        content.abort(ingest_ref(desc.digest))
            if isinstance(exc, HullError) and str(desc.digest) not in exc.message:
                raise type(exc)(f"layer {desc.digest}: {exc.message}") from exc
            raise
        if spool.writer is not None:
            spool.writer.close()  # committed (a no-op then), or unused: the blob existed
            spool.writer = None
        if spool.existing:
            with contextlib.suppress(NotFound):
                content.abort(ingest_ref(desc.digest))  # what an earlier pull left of it
        if unpack is not False:
            self.progress(message("Extracting", lid, desc.size, desc.size))
            self.progress(message("Pull complete", lid))
        else:
            self._pending_extract.append(lid)
        return blob

    def _fetch(self, client: RegistryClient, ref: Reference, spool: Spool) -> None:
        """Download one blob into its spool, retrying (and resuming) network failures."""
        desc = spool.desc
        lid = short(desc.digest)
        try:
            content = self.service.content
            # not hashed here: the unpacker reads the spool back from its first byte
            # and hashes it together with the tar inside (a resumed one included)
            writer = content.writer(ingest_ref(desc.digest), desc.digest, desc.size,
                                    hashed=False)  # fmt: skip
            spool.writer = writer
            if content.exists(desc.digest):
                with spool.cond:
                    spool.existing = True
                    spool.cond.notify_all()
                return
            attempt = 0
            while True:
                try:
                    self._receive(client, ref, spool, writer)
                    break
                except NetworkCut as exc:
                    attempt += 1
                    if attempt >= self.tries:
                        raise Unavailable(
                            f"downloading layer {desc.digest}: {exc} (after {attempt} tries; "
                            "pull again to resume)"
                        ) from exc
                    time.sleep(self.backoff * (2 ** (attempt - 1)))
            if spool.cancelled:
                return
            self.progress(message("Verifying Checksum", lid))
            self.progress(message("Download complete", lid))
        except BaseException as exc:
            spool.fail(exc)

    def _receive(self, client: RegistryClient, ref: Reference, spool: Spool,
                 writer: Any) -> None:  # fmt: skip
        desc = spool.desc
        lid = short(desc.digest)
        offset = writer.offset
        if offset >= desc.size:
            spool.publish(offset, done=True)
            return
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            reply = client.request("GET", f"/v2/{ref.path}/blobs/{desc.digest}",
                                   scopes=[f"repository:{ref.path}:pull"],
                                   headers=headers)  # fmt: skip
        except Unavailable as exc:
            raise NetworkCut(exc.message) from exc
        try:
            skip = 0
            if reply.status == 200 and offset:
                skip = offset  # the registry ignored the Range: pass over what we have
            elif reply.status == 206:
                cr = reply.header("content-range") or ""
                if not cr.startswith(f"bytes {offset}-"):
                    raise NetworkCut(f"registry answered the range {cr!r}, not from {offset}")
            elif reply.status == 416:
                reply.read()
                raise InvalidArgument(f"registry refused the resume range from byte {offset}")
            elif reply.status != 200:
                raise error_for(reply, f"downloading layer {desc.digest}")
            spool.publish(offset)
            # one buffer for the whole blob: no allocation (and page faults) per read
            view = memoryview(bytearray(RECV_CHUNK))
            while True:
                if spool.cancelled:
                    return
                try:
                    # what has arrived (one recv): a pull killed meanwhile keeps it on disk
                    n = reply.readinto1(view[: min(RECV_CHUNK, skip)] if skip else view)
                except NETWORK_ERRORS as exc:
                    raise NetworkCut(str(exc) or type(exc).__name__) from exc
                if n == 0:
                    if writer.offset < desc.size or skip:
                        raise NetworkCut(
                            f"connection closed after {writer.offset} of {desc.size} bytes"
                        )
                    spool.publish(writer.offset, done=True)
                    return
                spool.received += n
                if skip:
                    skip -= n
                    continue
                writer.write(view[:n])  # raises past the expected size
                spool.publish(writer.offset)
                self.progress.bytes("Downloading", lid, writer.offset, desc.size)
        finally:
            reply.close()

    def _ingest_data(self, ref: str) -> Path:
        # The content store's documented layout: ingest/<sha256(ref)>/data holds the
        # bytes received so far; read (never written) here to replay a resumed blob.
        key = hashlib.sha256(ref.encode("utf-8", "surrogateescape")).hexdigest()
        return Path(self.service.content.root) / "ingest" / key / "data"


def _waiter(before: concurrent.futures.Future[LayerBlob]) -> Callable[[], None]:
    """Waits for the unpack of the layer below (raising its error, if it failed)."""

    def wait() -> None:
        try:
            before.result()
        except BaseException as exc:
            # not the layer's own error: its bytes stay for a resume, its message is not raised
            raise Abandoned("the layer below it failed") from exc

    return wait


def pull(
    service: ImageService,
    name: str | Reference,
    *,
    platform: Platform | None = None,
    auth: AuthConfig | None = None,
    settings: RegistrySettings | None = None,
    progress: Progress | None = None,
    tries: int = 3,
    backoff: float = 0.5,
) -> PullResult:
    """``docker pull NAME``: see the module docstring."""
    return Puller(service, settings=settings, auth=auth, progress=progress, tries=tries,
                  backoff=backoff).pull(name, platform)  # fmt: skip


__all__ = ["PullResult", "Puller", "ingest_ref", "pull"]
