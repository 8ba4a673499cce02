"""Images over content, snapshots and metadata: references, unpacking, import/export."""
