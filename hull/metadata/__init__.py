"""The one SQLite database (``<data-root>/hull.db``): images, tags, leases, GC roots.

``Database`` (in ``db``) owns connections, transactions and migrations;
``images`` and ``leases`` are plain CRUD over it, with no business rules.
"""

from hull.metadata.db import DB_NAME, Database
from hull.metadata.images import (
    ImageLayer,
    ImageRecord,
    children,
    delete_image,
    find_image,
    find_images,
    get_image,
    has_image,
    images_with_chain_id,
    list_images,
    list_tags,
    put_image,
    resolve_tag,
    tag,
    tags_for,
    untag,
)
from hull.metadata.leases import (
    LEASE_KINDS,
    Lease,
    LeaseResource,
    add_lease_resource,
    create_lease,
    delete_lease,
    expire_leases,
    get_lease,
    lease_resources,
    leased_ingests,
    list_leases,
    referenced_blobs,
    referenced_chain_ids,
    remove_lease_resource,
)
from hull.metadata.schema import SCHEMA_VERSION

__all__ = [
    "DB_NAME",
    "LEASE_KINDS",
    "SCHEMA_VERSION",
    "Database",
    "ImageLayer",
    "ImageRecord",
    "Lease",
    "LeaseResource",
    "add_lease_resource",
    "children",
    "create_lease",
    "delete_image",
    "delete_lease",
    "expire_leases",
    "find_image",
    "find_images",
    "get_image",
    "get_lease",
    "has_image",
    "images_with_chain_id",
    "lease_resources",
    "leased_ingests",
    "list_images",
    "list_leases",
    "list_tags",
    "put_image",
    "referenced_blobs",
    "referenced_chain_ids",
    "remove_lease_resource",
    "resolve_tag",
    "tag",
    "tags_for",
    "untag",
]
