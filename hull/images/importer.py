"""``docker import``: a rootfs tarball becomes a one-layer image.

The tarball (plain, gzip or zstd, told by its magic bytes) is stored as one
layer as it is; the configuration is built the way Docker's
``ImageService.ImportImage`` builds it (``comment`` and one history entry
"Imported from -" or "Imported from <path>", ``docker_version`` left out),
with ``--change`` instructions applied to an empty container config.

``--change`` takes the Dockerfile instructions Docker allows there: CMD,
ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR.
CMD / ENTRYPOINT / VOLUME take the JSON form (``["sh", "-c"]``) or the shell
form (``sh -c`` → ``["/bin/sh", "-c", "sh -c"]`` for CMD and ENTRYPOINT);
ENV and LABEL take ``k=v k2="v 2"`` (quotes and backslashes as the shell
reads them) or the legacy ``k v w`` (value: the rest of the line).
"""

from __future__ import annotations

import json
import os
import posixpath
import shlex
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from hull.errors import InvalidArgument
from hull.images.inspect import format_time
from hull.images.service import ImageService
from hull.metadata import ImageRecord
from hull.oci import media_types as mt
from hull.oci.image_spec import Platform, canonical_json

ALLOWED_CHANGES = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)


def _json_array(rest: str) -> list[str] | None:
    """The JSON form of an instruction, or None if ``rest`` is not a JSON string array."""
    text = rest.strip()
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _words(rest: str, what: str) -> list[str]:
    try:
        return shlex.split(rest, posix=True)
    except ValueError as exc:
        raise InvalidArgument(f"{what}: {exc}") from exc


def _pairs(rest: str, what: str) -> list[tuple[str, str]]:
    """``k=v k2="v 2"`` or the legacy ``k v w`` form of ENV and LABEL."""
    rest = rest.strip()
    if not rest:
        raise InvalidArgument(f"{what} requires at least one argument")
    first = rest.split(None, 1)[0]
    if "=" not in first:
        parts = rest.split(None, 1)
        if len(parts) < 2:
            raise InvalidArgument(f"{what} must have two arguments")
        return [(parts[0], parts[1].strip())]
    out: list[tuple[str, str]] = []
    for word in _words(rest, what):
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidArgument(
                f'{what}: syntax error - can\'t find = in "{word}". Must be of the form: name=value'
            )
        out.append((key, value))
    return out


def _ports(words: Iterable[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        port, _, proto = w.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid proto: {proto}")
        lo, _, hi = port.partition("-")
        try:
            start, end = int(lo), int(hi or lo)
        except ValueError:
            raise InvalidArgument(f"invalid containerPort: {port}") from None
        if not 0 < start <= end <= 65535:
            raise InvalidArgument(f"invalid range specified for container port: {port}")
        out.extend(f"{p}/{proto}" for p in range(start, end + 1))
    return out


def apply_changes(config: dict[str, Any], changes: Iterable[str]) -> dict[str, Any]:
    """Apply ``--change`` instructions to a container config (Docker's JSON names)."""
    for change in changes:
        text = change.strip()
        if not text:
            continue
        word, _, rest = text.partition(" ")
        if "\t" in word:
            word, _, more = word.partition("\t")
            rest = more + " " + rest
        cmd = word.upper()
        rest = rest.strip()
        if cmd not in ALLOWED_CHANGES:
            raise InvalidArgument(f"{word.lower()} is not a valid change command")
        if cmd in ("CMD", "ENTRYPOINT"):
            arr = _json_array(rest)
            config["Cmd" if cmd == "CMD" else "Entrypoint"] = (
                arr if arr is not None else ["/bin/sh", "-c", rest]
            )
        elif cmd in ("ENV", "LABEL"):
            pairs = _pairs(rest, cmd)
            if cmd == "ENV":
                env = list(config.get("Env") or [])
                for key, value in pairs:
                    env = [e for e in env if e.partition("=")[0] != key]
                    env.append(f"{key}={value}")
                config["Env"] = env
            else:
                labels = dict(config.get("Labels") or {})
                labels.update(pairs)
                config["Labels"] = labels
        elif cmd == "EXPOSE":
            if not rest:
                raise InvalidArgument("EXPOSE requires at least one argument")
            ports = dict(config.get("ExposedPorts") or {})
            for p in _ports(rest.split()):
                ports[p] = {}
            config["ExposedPorts"] = ports
        elif cmd == "ONBUILD":
            trigger = rest.split(None, 1)[0].upper() if rest else ""
            if trigger in ("ONBUILD", "FROM", "MAINTAINER", ""):
                raise InvalidArgument(
                    f"{trigger or 'an empty'} isn't allowed as an ONBUILD trigger"
                    if trigger
                    else "ONBUILD requires at least one argument"
                )
            config["OnBuild"] = [*(config.get("OnBuild") or []), rest]
        elif cmd == "VOLUME":
            arr = _json_array(rest)
            vols = arr if arr is not None else rest.split()
            if not vols or any(not v.strip() for v in vols):
                raise InvalidArgument("VOLUME specified can not be an empty string")
            volumes = dict(config.get("Volumes") or {})
            for v in vols:
                volumes[v] = {}
            config["Volumes"] = volumes
        elif cmd in ("STOPSIGNAL", "USER"):
            if not rest:
                raise InvalidArgument(f"{cmd} requires exactly one argument")
            config["StopSignal" if cmd == "STOPSIGNAL" else "User"] = rest
        elif cmd == "WORKDIR":
            if not rest:
                raise InvalidArgument("WORKDIR requires exactly one argument")
            base = config.get("WorkingDir") or "/"
            config["WorkingDir"] = posixpath.normpath(posixpath.join(base, rest))
    return config


def import_rootfs(
    service: ImageService,
    source: BinaryIO | Path | str,
    *,
    reference: str | None = None,
    changes: Iterable[str] = (),
    message: str = "",
    platform: Platform | None = None,
    created: float | None = None,
) -> ImageRecord:
    """``docker import SOURCE [REFERENCE]``: a rootfs tar (plain/gzip/zstd) as a one-layer image.

    ``source`` is a path, ``"-"`` for standard input, or an open stream
    (recorded as "-").
    """
    plat = platform or Platform.parse("linux")
    container: dict[str, Any] = apply_changes({}, changes)
    if isinstance(source, (str, Path)) and str(source) != "-":
        label = str(source)
        with open(source, "rb") as f:
            blob = service.add_layer(f)
    else:
        label = "-"
        stream = (
            source if not isinstance(source, (str, Path)) else os.fdopen(0, "rb", closefd=False)
        )
        blob = service.add_layer(stream)
    when = format_time(time.time() if created is None else created)
    comment = message or f"Imported from {label}"
    config: dict[str, Any] = {
        "architecture": plat.architecture,
        "comment": comment,
        "config": container,
        "created": when,
        "history": [{"created": when, "comment": comment}],
        "os": plat.os,
        "rootfs": {"type": "layers", "diff_ids": [str(blob.diff_id)]},
    }
    if plat.variant:
        config["variant"] = plat.variant
    tags = [reference] if reference else []
    return service.create_image(
        canonical_json(config), [blob], tags=tags, manifest_media_type=mt.OCI_MANIFEST
    )


__all__ = ["ALLOWED_CHANGES", "apply_changes", "import_rootfs"]
