"""``save`` and ``load``: docker-archive and OCI image-layout tarballs.

``save(format="docker")`` writes the layout that ``docker save`` 20.10
writes and every ``docker load`` accepts::

    <diff-id hex>/layer.tar      each layer, uncompressed (diff ID = its sha256)
    <image-id hex>.json          the config, byte for byte (so the ID matches)
    manifest.json                [{"Config", "RepoTags", "Layers"}]
    repositories                 {"busybox": {"latest": "<top layer dir>"}}

``save(format="oci")`` writes an OCI image layout (``oci-layout``,
``index.json``, ``blobs/sha256/…`` with layers as stored, compressed or not)
plus Docker 25's ``manifest.json`` pointing into ``blobs/``, so the same file
is read by ``skopeo copy oci-archive:`` and by ``docker load``. Each index
entry carries ``io.containerd.image.name`` (the full name) and
``org.opencontainers.image.ref.name`` (the familiar reference, e.g.
``busybox:latest``: ``skopeo copy oci-archive:out.tar:busybox:latest``).

``load`` accepts both, and what ``docker save`` (20.10 ``<id>/layer.tar``, 25+
``blobs/``), ``skopeo copy … docker-archive:`` and ``… oci-archive:`` write;
the format is told by the members (``manifest.json`` first, else
``index.json``). The tar may itself be gzip or zstd compressed. Layers are
read in place by seeking in the tar (a pipe is spooled to a temp file
first), never into memory. Every blob is verified (layers by diff ID and,
where the archive names it, by digest). Hostile archives are refused with
``InvalidArgument`` naming the member: a path with ``..`` or ``/`` at the
start, a symlink or hard link leaving the archive or pointing nowhere
regular, devices, a JSON document above 4 MiB.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from typing import IO, Any, BinaryIO, Literal

from hull import metadata as md
from hull.archive import decompress_stream, detect_compression
from hull.archive import tarstream as ts
from hull.archive.tarwriter import TarWriter
from hull.errors import Internal, InvalidArgument, NotFound
from hull.images.reference import parse_any_reference, parse_reference
from hull.images.service import ImageService, LayerBlob
from hull.metadata import ImageRecord
from hull.oci import media_types as mt
from hull.oci.digest import Digest, digest_bytes
from hull.oci.image_config import ImageConfig
from hull.oci.image_spec import (
    MAX_MANIFEST_SIZE,
    Descriptor,
    Index,
    Manifest,
    Platform,
    canonical_json,
)

CHUNK = 1 << 20
MAX_MEMBERS = 1_000_000
NAME_ANNOTATION = "io.containerd.image.name"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
_TO_OCI = {
    mt.DOCKER_LAYER_GZIP: mt.OCI_LAYER_GZIP,
    mt.DOCKER_LAYER: mt.OCI_LAYER,
    mt.DOCKER_FOREIGN_LAYER_GZIP: mt.OCI_LAYER_NONDIST_GZIP,
    mt.DOCKER_FOREIGN_LAYER: mt.OCI_LAYER_NONDIST,
}

# -- save -----------------------------------------------------------------------------


class _Out:
    """A tar being written: directories once, regular files from bytes or streams."""

    def __init__(self, out: BinaryIO) -> None:
        self.w = TarWriter(out)
        self.out = out
        self.names: set[str] = set()

    def dir(self, name: str) -> None:
        if name not in self.names:
            self.names.add(name)
            self.w.add(name.encode() + b"/", ts.DIR, mode=0o755)

    def file(self, name: str, data: bytes) -> None:
        self.names.add(name)
        self.w.add(name.encode(), ts.REG, mode=0o644, size=len(data))
        self.w.write_data(data)

    def stream(self, name: str, src: IO[bytes], size: int) -> None:
        self.names.add(name)
        self.w.add(name.encode(), ts.REG, mode=0o644, size=size)
        left = size
        while left:
            chunk = src.read(min(CHUNK, left))
            if not chunk:
                raise Internal(f"save: {name}: the stored layer is shorter than its recorded size")
            self.out.write(chunk)
            left -= len(chunk)
        if src.read(1):
            raise Internal(f"save: {name}: the stored layer is longer than its recorded size")
        self.w.pad(size)


def _selected(service: ImageService, names: list[str]) -> list[tuple[ImageRecord, list[str]]]:
    """Docker's ``parseNames``: each image once, with the familiar tags to record for it."""
    out: dict[Digest, list[str]] = {}
    records: dict[Digest, ImageRecord] = {}

    def add(record: ImageRecord, tag: str | None) -> None:
        records[record.id] = record
        tags = out.setdefault(record.id, [])
        if tag is not None:
            tags.append(tag)

    for name in names:
        ref = parse_any_reference(name, default_tag=None)
        if isinstance(ref, Digest) or ref.familiar_name() == "sha256":
            add(service.resolve(name), None)
        elif ref.is_name_only():  # "busybox": every tag of that repository
            found = False
            for text, image_id in md.list_tags(service.db):
                r = parse_reference(text, default_tag=None)
                if r.name == ref.name and r.tag is not None and r.digest is None:
                    add(service.get(image_id), r.familiar())
                    found = True
            if not found:
                add(service.resolve(name), None)  # an ID prefix
        else:
            record = service.resolve(name)
            add(record, ref.familiar() if ref.digest is None else None)
    return [(records[i], sorted(set(t))) for i, t in out.items()]


def _layer_source(service: ImageService, digest: Digest | None) -> BinaryIO:
    if digest is None:
        raise NotFound("save: a layer of the image has no blob in the content store")
    return service.content.open(digest)


def _diff_size(service: ImageService, digest: Digest | None) -> int:
    """The uncompressed size of a layer blob whose record lacks it (one decompressing pass)."""
    n = 0
    with _layer_source(service, digest) as blob:
        plain = decompress_stream(blob)
        while chunk := plain.read(CHUNK):
            n += len(chunk)
    return n


def save(
    service: ImageService,
    images: list[str],
    out: BinaryIO,
    *,
    format: Literal["docker", "oci"] = "docker",
) -> None:
    """Write ``images`` to ``out`` as a docker-archive or an OCI layout tar."""
    if format not in ("docker", "oci"):
        raise InvalidArgument(f"unknown archive format '{format}' (expected docker or oci)")
    selected = _selected(service, images)
    tar = _Out(out)
    manifest_json: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    index: list[Descriptor] = []
    if format == "oci":
        tar.file("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        tar.dir("blobs")
        tar.dir("blobs/sha256")
    for record, tags in selected:
        paths: list[str] = []
        descs: list[Descriptor] = []
        for layer in record.layers:
            if format == "docker":
                path = f"{layer.diff_id.hex}/layer.tar"
                if path not in tar.names:
                    tar.dir(layer.diff_id.hex)
                    size = layer.diff_size or _diff_size(service, layer.digest)
                    with _layer_source(service, layer.digest) as blob:
                        tar.stream(path, decompress_stream(blob), size)
            else:
                assert layer.digest is not None
                path = f"blobs/sha256/{layer.digest.hex}"
                if path not in tar.names:
                    with _layer_source(service, layer.digest) as blob:
                        tar.stream(path, blob, layer.size)
                media_type = layer.media_type or mt.OCI_LAYER_GZIP
                descs.append(
                    Descriptor(_TO_OCI.get(media_type, media_type), layer.digest, layer.size)
                )
            paths.append(path)
        config = f"{record.id.hex}.json" if format == "docker" else f"blobs/sha256/{record.id.hex}"
        if config not in tar.names:
            tar.file(config, record.config)
        manifest_json.append({"Config": config, "RepoTags": tags or None, "Layers": paths})
        for t in tags:
            name, _, tag = t.rpartition(":")
            if paths:
                top = paths[-1].split("/")[0] if format == "docker" else paths[-1].rsplit("/")[-1]
                repositories.setdefault(name, {})[tag] = top
        if format == "oci":
            manifest = Manifest(
                config=Descriptor(mt.OCI_CONFIG, record.id, len(record.config)),
                layers=tuple(descs),
            )
            data = manifest.to_bytes()
            mdesc = manifest.descriptor()
            if f"blobs/sha256/{mdesc.digest.hex}" not in tar.names:
                tar.file(f"blobs/sha256/{mdesc.digest.hex}", data)
            for t in tags or [""]:
                annotations = {}
                if t:
                    annotations = {
                        NAME_ANNOTATION: str(parse_reference(t)),
                        REF_ANNOTATION: t,
                    }
                index.append(
                    Descriptor(mt.OCI_MANIFEST, mdesc.digest, mdesc.size, annotations=annotations)
                )
    if format == "oci":
        tar.file("index.json", Index(manifests=tuple(index)).to_bytes())
    tar.file("manifest.json", canonical_json(manifest_json))
    if repositories:
        tar.file("repositories", canonical_json(repositories))
    tar.w.close()
    out.flush()


# -- load -----------------------------------------------------------------------------


class _Archive:
    """The members of a seekable tar, checked, looked up by clean name."""

    def __init__(self, fileobj: BinaryIO) -> None:
        try:
            self.tf = tarfile.open(fileobj=fileobj, mode="r:")  # noqa: SIM115
        except tarfile.TarError as exc:
            raise InvalidArgument(f"load: not a tar archive: {exc}") from exc
        self.members: dict[str, tarfile.TarInfo] = {}
        try:
            for n, info in enumerate(self.tf):
                if n >= MAX_MEMBERS:
                    raise InvalidArgument(f"load: archive has more than {MAX_MEMBERS} members")
                name = self._clean(info.name)
                if name is None:
                    continue  # the archive root itself
                if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
                    raise InvalidArgument(
                        f"load: archive member '{info.name}' is a device or fifo, which an image "
                        "archive never contains"
                    )
                self.members[name] = info
        except tarfile.TarError as exc:
            raise InvalidArgument(f"load: corrupt tar archive: {exc}") from exc

    @staticmethod
    def _clean(raw: str) -> str | None:
        if raw.startswith("/") or "\\" in raw or "\0" in raw:
            raise InvalidArgument(f"load: archive member '{raw}' has an absolute or invalid path")
        parts = [p for p in raw.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise InvalidArgument(f"load: archive member '{raw}' has a path with '..'")
        return "/".join(parts) or None

    def has(self, name: str) -> bool:
        return name in self.members

    def member(self, name: str) -> tarfile.TarInfo:
        """The regular file at ``name``, following links that stay inside the archive."""
        clean = self._clean(name)
        seen = 0
        while True:
            info = self.members.get(clean or "")
            if info is None:
                raise InvalidArgument(f"load: the archive has no member '{name}'")
            if info.isfile():
                return info
            if info.isdir():
                raise InvalidArgument(f"load: archive member '{name}' is a directory")
            seen += 1
            if seen > 8:
                raise InvalidArgument(f"load: archive member '{name}': too many levels of links")
            target = info.linkname
            if target.startswith("/"):
                raise InvalidArgument(
                    f"load: archive member '{info.name}' links outside the archive ({target})"
                )
            base = posixpath.dirname(clean or "") if info.issym() else ""
            joined = posixpath.normpath(posixpath.join(base, target))
            if joined.startswith("..") or joined.startswith("/"):
                raise InvalidArgument(
                    f"load: archive member '{info.name}' links outside the archive ({target})"
                )
            clean = joined

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        f = self.tf.extractfile(self.member(name))
        assert f is not None
        try:
            yield f  # type: ignore[misc]
        finally:
            f.close()

    def read_small(self, name: str) -> bytes:
        info = self.member(name)
        if info.size > MAX_MANIFEST_SIZE:
            raise InvalidArgument(
                f"load: archive member '{name}' is too big: {info.size} bytes "
                f"(the limit is {MAX_MANIFEST_SIZE} bytes, 4 MiB)"
            )
        with self.open(name) as f:
            return f.read()

    def read_json(self, name: str) -> Any:
        try:
            return json.loads(self.read_small(name))
        except ValueError as exc:
            raise InvalidArgument(f"load: archive member '{name}': invalid JSON: {exc}") from exc

    def read_blob(self, desc: Descriptor) -> bytes:
        name = f"blobs/{desc.digest.algorithm}/{desc.digest.hex}"
        data = self.read_small(name)
        if len(data) != desc.size or digest_bytes(data, desc.digest.algorithm) != desc.digest:
            raise InvalidArgument(
                f"load: archive member '{name}' does not match its digest and size"
            )
        return data


def _seekable(stream: BinaryIO, stack: contextlib.ExitStack, tmpdir: str) -> BinaryIO:
    """A seekable, uncompressed view of ``stream`` (spooled to a temp file if needed)."""
    try:
        seekable = stream.seekable()
    except (AttributeError, ValueError):
        seekable = False
    if seekable:
        start = stream.tell()
        first = stream.read(8)
        stream.seek(start)
        if detect_compression(first) == "none":
            return stream
    spool = stack.enter_context(tempfile.TemporaryFile(dir=tmpdir, prefix="load-"))  # noqa: SIM115
    shutil.copyfileobj(decompress_stream(stream), spool, CHUNK)
    spool.seek(0)
    return spool


def load(service: ImageService, stream: BinaryIO, *, unpack: bool = True) -> list[str]:
    """Load every image of a docker-archive or OCI layout tar; the names (or IDs) loaded."""
    tmpdir = service.data_root / "tmp"
    tmpdir.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        archive = _Archive(_seekable(stream, stack, str(tmpdir)))
        if archive.has("manifest.json"):
            return _load_docker(service, archive, unpack)
        if archive.has("index.json"):
            return _load_oci(service, archive, unpack)
        raise InvalidArgument(
            "load: unrecognised archive: it has neither manifest.json (docker-archive) "
            "nor index.json (OCI layout)"
        )


def _hex_of(path: str) -> Digest | None:
    """The digest a member path names: ``blobs/sha256/<hex>`` or ``<hex>.json``."""
    parts = path.split("/")
    try:
        if len(parts) == 3 and parts[0] == "blobs":
            return Digest(parts[1], parts[2])
        if len(parts) == 1 and parts[0].endswith(".json"):
            return Digest("sha256", parts[0][: -len(".json")])
    except InvalidArgument:
        return None
    return None


def _add_layers(
    service: ImageService,
    archive: _Archive,
    items: Sequence[tuple[str, Digest, Digest | None, str]],
    lease: str,
    unpack: bool,
) -> list[LayerBlob]:
    """(member, diff ID, expected blob digest, media type) → stored layers, in order."""
    out: list[LayerBlob] = []
    parent: Digest | None = None
    for path, diff_id, digest, media_type in items:
        plain = not mt.is_layer(media_type) or mt.layer_compression(media_type) == "none"
        have = digest or diff_id
        if have == diff_id and plain and service.content.exists(have):
            # an uncompressed blob whose digest is its diff ID: stored already
            service._hold(lease, "content", str(have))
            size = service.content.info(have).size
            blob = LayerBlob(have, diff_id, size, media_type, size)
        else:
            with archive.open(path) as f:
                blob = service.add_layer(
                    f,
                    media_type=media_type,
                    expected_digest=digest,
                    expected_diff_id=diff_id,
                    lease=lease,
                    # one pass when the layer below is unpacked; else ``unpack`` does it later
                    unpack_on=parent
                    if unpack and (parent is None or service.snapshots.has_layer(parent))
                    else False,
                )
        out.append(blob)
        parent = diff_id if parent is None else _chain(parent, diff_id)
    return out


def _chain(parent: Digest, diff_id: Digest) -> Digest:
    return digest_bytes(f"{parent} {diff_id}".encode())


def _load_docker(service: ImageService, archive: _Archive, unpack: bool) -> list[str]:
    manifest = archive.read_json("manifest.json")
    if not isinstance(manifest, list):
        raise InvalidArgument("load: manifest.json: expected an array")
    loaded: list[str] = []
    for i, entry in enumerate(manifest):
        where = f"manifest.json[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise InvalidArgument(f"load: {where}: expected an object with a Config path")
        layers = entry.get("Layers") or []
        tags = entry.get("RepoTags") or []
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise InvalidArgument(f"load: {where}.Layers: expected an array of paths")
        if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
            raise InvalidArgument(f"load: {where}.RepoTags: expected an array of names")
        config_bytes = archive.read_small(entry["Config"])
        named = _hex_of(entry["Config"])
        if named is not None and digest_bytes(config_bytes, named.algorithm) != named:
            raise InvalidArgument(
                f"load: archive member '{entry['Config']}' does not match its digest"
            )
        config = ImageConfig.from_bytes(config_bytes)
        if len(config.rootfs.diff_ids) != len(layers):
            raise InvalidArgument(
                f"load: {where}: {len(layers)} layers but the config has "
                f"{len(config.rootfs.diff_ids)} diff IDs"
            )
        items = [
            (p, d, _hex_of(p) if p.startswith("blobs/") else None, mt.DOCKER_LAYER)
            for p, d in zip(layers, config.rootfs.diff_ids, strict=True)
        ]
        with service.lease() as lease:
            blobs = _add_layers(service, archive, items, lease, unpack)
            record = service.create_image(
                config_bytes, blobs, tags=tags, manifest_media_type=mt.DOCKER_MANIFEST, lease=lease
            )
            if unpack:
                service.unpack(record)
        loaded.extend(parse_reference(t).familiar() for t in tags)
        if not tags:
            loaded.append(str(record.id))
    return loaded


def _oci_names(desc: Descriptor) -> list[str]:
    name = desc.annotations.get(NAME_ANNOTATION)
    if name:
        return [name]
    ref = desc.annotations.get(REF_ANNOTATION)
    if ref:
        try:
            return [str(parse_reference(ref))]
        except InvalidArgument:
            return []
    return []


def _pick(archive: _Archive, desc: Descriptor) -> Descriptor:
    """A manifest descriptor; an index is resolved to the host's platform."""
    depth = 0
    while mt.is_index(desc.media_type):
        depth += 1
        if depth > 4:
            raise InvalidArgument("load: index.json: nested indexes are too deep")
        index = Index.from_bytes(archive.read_blob(desc))
        host = Platform.parse("linux")
        candidates = [
            d for d in index.manifests if d.platform is None or (
                d.platform.normalized().architecture == host.architecture
                and d.platform.os == host.os
            )
        ]  # fmt: skip
        if not candidates:
            raise NotFound(f"load: image index {desc.digest} has no manifest for {host}")
        desc = candidates[0]
    return desc


def _load_oci(service: ImageService, archive: _Archive, unpack: bool) -> list[str]:
    index = Index.from_bytes(archive.read_small("index.json"))
    loaded: list[str] = []
    for top in index.manifests:
        desc = _pick(archive, top)
        if not mt.is_manifest(desc.media_type):
            raise InvalidArgument(f"load: index.json: unsupported media type '{desc.media_type}'")
        manifest = Manifest.from_bytes(archive.read_blob(desc))
        config_bytes = archive.read_blob(manifest.config)
        config = ImageConfig.from_bytes(config_bytes)
        if len(config.rootfs.diff_ids) != len(manifest.layers):
            raise InvalidArgument(
                f"load: manifest {desc.digest}: {len(manifest.layers)} layers but the config "
                f"has {len(config.rootfs.diff_ids)} diff IDs"
            )
        items = [
            (f"blobs/{d.digest.algorithm}/{d.digest.hex}", diff_id, d.digest, d.media_type)
            for d, diff_id in zip(manifest.layers, config.rootfs.diff_ids, strict=True)
        ]
        names = _oci_names(top)
        with service.lease() as lease:
            blobs = _add_layers(service, archive, items, lease, unpack)
            record = service.create_image(
                config_bytes,
                blobs,
                tags=names,
                manifest_media_type=manifest.media_type or mt.OCI_MANIFEST,
                lease=lease,
            )
            if unpack:
                service.unpack(record)
        loaded.extend(parse_reference(n).familiar() for n in names)
        if not names:
            loaded.append(str(record.id))
    return loaded


__all__ = ["load", "save"]
