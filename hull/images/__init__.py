"""Images over content, snapshots and metadata: references, unpacking, import/export.

``ImageService`` (``service``) is the entry point; ``archives`` saves and
loads docker-archive / OCI layout tarballs, ``importer`` is ``docker
import``, ``bootstrap`` makes the offline base images, ``inspect`` lays out
Docker's JSON, ``reference`` parses names as Docker does.

Each name's submodule is imported on first use (``__getattr__``): the CLI
parses references, and importing the whole package for that cost each
``hull pull`` or ``hull run`` of a missing image ~60 ms.
"""

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
    from hull.images.service import ImageService, InUse, LayerBlob, UsedBy, short_id
    from hull.metadata import ImageLayer, ImageRecord

# public name -> the module that defines it
_WHERE = {
    "load": "hull.images.archives",
    "save": "hull.images.archives",
    "bootstrap_busybox": "hull.images.bootstrap",
    "bootstrap_debian": "hull.images.bootstrap",
    "host_mirror": "hull.images.bootstrap",
    "apply_changes": "hull.images.importer",
    "import_rootfs": "hull.images.importer",
    "DEFAULT_DOMAIN": "hull.images.reference",
    "DEFAULT_TAG": "hull.images.reference",
    "NAME_TOTAL_LENGTH_MAX": "hull.images.reference",
    "Reference": "hull.images.reference",
    "familiar_name": "hull.images.reference",
    "is_digest_id": "hull.images.reference",
    "parse_any_reference": "hull.images.reference",
    "parse_normalized_named": "hull.images.reference",
    "parse_reference": "hull.images.reference",
    "ImageService": "hull.images.service",
    "InUse": "hull.images.service",
    "LayerBlob": "hull.images.service",
    "UsedBy": "hull.images.service",
    "short_id": "hull.images.service",
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


def __getattr__(name: str) -> object:
    """A public name, its module imported on first use."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(where, fromlist=[name]), name)
    globals()[name] = value
    return value
