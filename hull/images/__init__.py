"""Images over content, snapshots and metadata: references, unpacking, import/export.

``ImageService`` (``service``) is the entry point; ``archives`` saves and
loads docker-archive / OCI layout tarballs, ``importer`` is ``docker
import``, ``bootstrap`` makes the offline base images, ``inspect`` lays out
Docker's JSON, ``reference`` parses names as Docker does.
"""

from hull.images.archives import load, save
from hull.images.bootstrap import bootstrap_busybox, bootstrap_debian, host_mirror
from hull.images.importer import apply_changes, import_rootfs
from hull.images.reference import (
    DEFAULT_DOMAIN,
    DEFAULT_TAG,
    NAME_TOTAL_LENGTH_MAX,
    Reference,
    familiar_name,
    is_digest_id,
    parse_any_reference,
    parse_normalized_named,
    parse_reference,
)
from hull.images.service import ImageService, InUse, LayerBlob, UsedBy, short_id
from hull.metadata import ImageLayer, ImageRecord

__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "NAME_TOTAL_LENGTH_MAX",
    "ImageLayer",
    "ImageRecord",
    "ImageService",
    "InUse",
    "LayerBlob",
    "Reference",
    "UsedBy",
    "apply_changes",
    "bootstrap_busybox",
    "bootstrap_debian",
    "familiar_name",
    "host_mirror",
    "import_rootfs",
    "is_digest_id",
    "load",
    "parse_any_reference",
    "parse_normalized_named",
    "parse_reference",
    "save",
    "short_id",
]
