"""Content-addressed blobs: verified streaming ingest, atomic commit, GC.

``ContentStore`` (in ``store``) is the protocol callers type against;
``LocalStore`` (in ``local``) keeps blobs under ``<root>/blobs/sha256/<hex>``.
"""

from hull.content.local import LocalStore, LocalWriter
from hull.content.store import BlobInfo, ContentStore, IngestStatus, Writer

__all__ = ["BlobInfo", "ContentStore", "IngestStatus", "LocalStore", "LocalWriter", "Writer"]
