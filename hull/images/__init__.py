"""Images over content, snapshots and metadata: references, unpacking, import/export.

``ImageService`` (``service``) is the entry point; ``archives`` saves and
loads docker-archive / OCI layout tarballs, ``importer`` is ``docker
import``, ``bootstrap`` makes the offline base images, ``inspect`` lays out
Docker's JSON, ``reference`` parses names as Docker does.

Each name's submodule is imported on first use (:mod:`hull._lazy`): the CLI
parses references, and importing the whole package for that cost each
``hull pull`` or ``hull run`` of a missing image ~60 ms.
"""

from hull._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
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
    from hull.images.removal import InUse, UsedBy, short_id
    from hull.images.service import ImageService, LayerBlob
    from hull.metadata import ImageLayer, ImageRecord

# public name -> the module that defines it
_WHERE = {
    "load": "archives",
    "save": "archives",
    "bootstrap_busybox": "bootstrap",
    "bootstrap_debian": "bootstrap",
    "host_mirror": "bootstrap",
    "apply_changes": "importer",
    "import_rootfs": "importer",
    "DEFAULT_DOMAIN": "reference",
    "DEFAULT_TAG": "reference",
    "NAME_TOTAL_LENGTH_MAX": "reference",
    "Reference": "reference",
    "familiar_name": "reference",
    "is_digest_id": "reference",
    "parse_any_reference": "reference",
    "parse_normalized_named": "reference",
    "parse_reference": "reference",
    "ImageService": "service",
    "InUse": "removal",
    "LayerBlob": "service",
    "UsedBy": "removal",
    "short_id": "removal",
    "ImageLayer": "hull.metadata",
    "ImageRecord": "hull.metadata",
}

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


__getattr__ = lazy_exports(__name__, _WHERE, globals())
