"""Media types of the OCI image-spec and of Docker's image formats.

The strings are the registered values (image-spec ``media-types.md``,
Docker's "Image Manifest V2, Schema 2"); the helpers classify a media type
so callers never compare strings by hand. Schema 1 manifests (signed or not)
are recognised only so that they can be refused with a clear message.
"""

from __future__ import annotations

# -- OCI image-spec ------------------------------------------------------------

OCI_DESCRIPTOR = "application/vnd.oci.descriptor.v1+json"
OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"

# Deprecated by image-spec 1.1, still found in Windows images.
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

# -- Docker --------------------------------------------------------------------

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json"

# Refused: "schema 1 manifests are not supported".
DOCKER_SCHEMA1_MANIFEST = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED_MANIFEST = "application/vnd.docker.distribution.manifest.v1+prettyjws"

# -- Classes -------------------------------------------------------------------

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
SCHEMA1_TYPES = frozenset({DOCKER_SCHEMA1_MANIFEST, DOCKER_SCHEMA1_SIGNED_MANIFEST})

# layer media type -> compression ("none", "gzip", "zstd")
_LAYER_COMPRESSION: dict[str, str] = {
    OCI_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_NONDIST: "none",
    OCI_LAYER_NONDIST_GZIP: "gzip",
    OCI_LAYER_NONDIST_ZSTD: "zstd",
    DOCKER_LAYER: "none",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_FOREIGN_LAYER: "none",
    DOCKER_FOREIGN_LAYER_GZIP: "gzip",
}
LAYER_TYPES = frozenset(_LAYER_COMPRESSION)
NON_DISTRIBUTABLE_TYPES = frozenset(
    {
        OCI_LAYER_NONDIST,
        OCI_LAYER_NONDIST_GZIP,
        OCI_LAYER_NONDIST_ZSTD,
        DOCKER_FOREIGN_LAYER,
        DOCKER_FOREIGN_LAYER_GZIP,
    }
)

# What a registry client sends in ``Accept`` for a manifest, preferred first.
MANIFEST_ACCEPT = (OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST)


def is_manifest(media_type: str) -> bool:
    """An image manifest (OCI or Docker schema 2)."""
    return media_type in MANIFEST_TYPES


def is_index(media_type: str) -> bool:
    """An image index or a Docker manifest list."""
    return media_type in INDEX_TYPES


def is_config(media_type: str) -> bool:
    """An image configuration (OCI or Docker)."""
    return media_type in CONFIG_TYPES


def is_layer(media_type: str) -> bool:
    """A filesystem layer of a known type (tar, possibly compressed)."""
    return media_type in _LAYER_COMPRESSION


def is_schema1(media_type: str) -> bool:
    """A Docker schema 1 manifest, which hull refuses."""
    return media_type in SCHEMA1_TYPES


def is_non_distributable(media_type: str) -> bool:
    """A layer that registries may refuse to store (foreign / non-distributable)."""
    return media_type in NON_DISTRIBUTABLE_TYPES


def layer_compression(media_type: str) -> str:
    """``"none"``, ``"gzip"`` or ``"zstd"`` for a layer media type; KeyError if not a layer."""
    return _LAYER_COMPRESSION[media_type]


__all__ = [
    "CONFIG_TYPES",
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_FOREIGN_LAYER_GZIP",
    "DOCKER_LAYER",
    "DOCKER_LAYER_GZIP",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "DOCKER_PLUGIN_CONFIG",
    "DOCKER_SCHEMA1_MANIFEST",
    "DOCKER_SCHEMA1_SIGNED_MANIFEST",
    "INDEX_TYPES",
    "LAYER_TYPES",
    "MANIFEST_ACCEPT",
    "MANIFEST_TYPES",
    "NON_DISTRIBUTABLE_TYPES",
    "OCI_CONFIG",
    "OCI_DESCRIPTOR",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_NONDIST",
    "OCI_LAYER_NONDIST_GZIP",
    "OCI_LAYER_NONDIST_ZSTD",
    "OCI_LAYER_ZSTD",
    "OCI_LAYOUT_HEADER",
    "OCI_MANIFEST",
    "SCHEMA1_TYPES",
    "is_config",
    "is_index",
    "is_layer",
    "is_manifest",
    "is_non_distributable",
    "is_schema1",
    "layer_compression",
]
