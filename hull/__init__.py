"""hull: a Linux container engine (runtime, images, builds, registry, Docker Engine API)."""

__version__ = "0.1.0"
