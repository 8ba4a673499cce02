"""Pure data: OCI runtime-spec and image-spec types, digests, media types."""
