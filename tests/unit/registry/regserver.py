"""An in-process registry on its own event-loop thread, on 127.0.0.1:<random port>."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hull.registry import RegistryConfig
from hull.registry.main import start

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Resp:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def codes(self) -> list[str]:
        return [e["code"] for e in self.json()["errors"]]


class RunningRegistry:
    """Starts ``hull.registry`` with ``config`` in a thread; ``close()`` stops it."""

    def __init__(self, root: Path, **overrides: Any) -> None:
        self.config = RegistryConfig(root=root, **overrides)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.server, self.app, addr = self.loop.run_until_complete(
                    start(self.config, "127.0.0.1", 0)
                )
                self.host, self.port = addr
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        self.auth: str | None = None

    @property
    def addr(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        async def stop() -> None:
            await self.server.close(timeout=2)
            self.app.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def basic(self, user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Resp:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        h = dict(headers or {})
        if self.auth and "Authorization" not in h:
            h["Authorization"] = self.auth
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    # ------------------------------------------------------------ helpers

    def push_blob(self, name: str, data: bytes) -> str:
        digest = sha(data)
        r = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data)
        assert r.status == 201, (r.status, r.body)
        return digest

    def push_manifest(
        self, name: str, ref: str, doc: dict[str, Any] | bytes, media_type: str = OCI_MANIFEST
    ) -> Resp:
        data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        return self.request(
            "PUT", f"/v2/{name}/manifests/{ref}", data, {"Content-Type": media_type}
        )

    def image(
        self,
        name: str,
        tag: str | None = None,
        media_type: str = OCI_MANIFEST,
        layer: bytes = b"layer-bytes",
        **extra: Any,
    ) -> tuple[str, bytes]:
        """Push a config and one layer, then a manifest; return its digest and bytes."""
        docker = media_type == DOCKER_MANIFEST
        config = json.dumps(
            {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}
        ).encode()
        cd = self.push_blob(name, config)
        ld = self.push_blob(name, layer)
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json"
                if docker
                else "application/vnd.oci.image.config.v1+json",
                "digest": cd,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip"
                    if docker
                    else "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": ld,
                    "size": len(layer),
                }
            ],
            **extra,
        }
        data = json.dumps(doc, indent=1).encode()
        r = self.push_manifest(name, tag or sha(data), data, media_type)
        assert r.status == 201, (r.status, r.body)
        return sha(data), data


def make_oci_layout(dest: Path, tag: str = "v1", files: dict[str, bytes] | None = None) -> str:
    """A tiny OCI image layout (one gzip layer, a config) at ``dest``; its manifest digest."""
    import gzip
    import io
    import tarfile

    files = files or {"hello.txt": b"hello from hull\n", "etc/motd": b"welcome\n"}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    layer = gzip.compress(tar_bytes, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [sha(tar_bytes)]},
            "history": [{"created_by": "hull test"}],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for data in (layer, config, manifest):
        (blobs / sha(data)[7:]).write_bytes(data)
    (dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": sha(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (dest / "index.json").write_text(json.dumps(index))
    return sha(manifest)
