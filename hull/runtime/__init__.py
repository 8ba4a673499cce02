"""The OCI runtime: bundle -> created -> running -> stopped (``hull-runtime``)."""
