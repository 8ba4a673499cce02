"""Shared pieces of the distribution tests: image stores, images, a faulty proxy."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import socket
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hull.images import ImageService
from hull.metadata import ImageRecord


def tar_of(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
    return raw.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def store(root: Path) -> ImageService:
    return ImageService(root, snapshotter="vfs", durable=False)


def make_image(
    svc: ImageService,
    tag: str,
    layers: list[dict[str, bytes]],
    *,
    arch: str = "amd64",
    gz: bool = True,
) -> ImageRecord:
    """An image of gzip (or plain) layers, built through ImageService."""
    blobs = []
    for files in layers:
        raw = tar_of(files)
        data = gzip.compress(raw, mtime=0) if gz else raw
        blobs.append(svc.add_layer(io.BytesIO(data)))
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [str(b.diff_id) for b in blobs]},
            "history": [{"created_by": f"layer {i}"} for i in range(len(blobs))],
        }
    ).encode()
    return svc.create_image(config, blobs, tags=[tag])


@dataclass
class ProxyRules:
    """What the proxy does: cut a response after N bytes once, answer 5xx N times."""

    cut_after: int | None = None  # bytes of a blob GET response body, once
    cut_path: str = "/blobs/sha256:"
    fail_5xx: int = 0
    fail_path: str = "/blobs/sha256:"
    delay: float = 0.0
    corrupt_path: str | None = None  # flip a byte in the middle of this GET's body
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    bytes_out: int = 0


class Proxy:
    """A TCP proxy in front of a registry that records requests and can misbehave."""

    def __init__(self, upstream: tuple[str, int], rules: ProxyRules | None = None) -> None:
        self.upstream = upstream
        self.rules = rules or ProxyRules()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop = True
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        import http.client

        r = self.rules
        f = client.makefile("rb")
        try:
            while True:
                line = f.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := f.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip()] = v.strip()
                body = f.read(int(headers.get("Content-Length", "0") or 0))
                r.log.append((method, target, headers))
                if r.fail_5xx and r.fail_path in target and method == "GET":
                    r.fail_5xx -= 1
                    client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                    continue
                up = http.client.HTTPConnection(*self.upstream, timeout=30)
                hdrs = {k: v for k, v in headers.items() if k.lower() != "host"}
                up.request(method, target, body=body or None, headers=hdrs)
                resp = up.getresponse()
                data = resp.read() if method != "HEAD" else b""
                head = f"HTTP/1.1 {resp.status} {resp.reason}\r\n"
                for k, v in resp.getheaders():
                    if k.lower() in ("transfer-encoding", "connection", "content-length"):
                        continue
                    head += f"{k}: {v}\r\n"
                length = resp.getheader("Content-Length") if method == "HEAD" else len(data)
                head += f"Content-Length: {length}\r\n\r\n"
                up.close()
                client.sendall(head.encode())
                if r.corrupt_path and r.corrupt_path in target and method == "GET" and data:
                    mid = len(data) // 2
                    data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1 :]
                if r.cut_after is not None and r.cut_path in target and method == "GET":
                    n = r.cut_after
                    r.cut_after = None
                    client.sendall(data[:n])
                    r.bytes_out += n
                    return  # cut the connection mid-body
                if r.delay:
                    import time

                    for i in range(0, len(data), 4096):
                        client.sendall(data[i : i + 4096])
                        r.bytes_out += len(data[i : i + 4096])
                        time.sleep(r.delay)
                    continue
                else:
                    client.sendall(data)
                r.bytes_out += len(data)
        except (OSError, ValueError):
            return
        finally:
            f.close()
            client.close()


def events_sink() -> tuple[list[dict[str, Any]], Callable[[dict[str, Any]], None]]:
    out: list[dict[str, Any]] = []
    return out, out.append
