"""Layer tar streams: safe apply, diff back into a layer, and codecs.

``apply_layer`` unpacks an OCI layer (gzip, zstd or plain tar) into a
directory without ever writing outside it; ``diff_dir`` turns an overlayfs
upper directory back into a reproducible layer tar; ``detect_compression``,
``decompress_stream`` and ``compress_stream`` are the codecs.
"""

from hull.archive.apply import ApplyLimits, ApplyStats, IDMap, WhiteoutFormat, apply_layer
from hull.archive.compression import (
    Compression,
    compress_stream,
    decompress_stream,
    detect_compression,
)
from hull.archive.diff import DiffFormat, DiffStats, diff_dir

__all__ = [
    "ApplyLimits",
    "ApplyStats",
    "Compression",
    "DiffFormat",
    "DiffStats",
    "IDMap",
    "WhiteoutFormat",
    "apply_layer",
    "compress_stream",
    "decompress_stream",
    "detect_compression",
    "diff_dir",
]
