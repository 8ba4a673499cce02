"""`hull registry serve` runs the registry server in its own process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_hull_registry_serve(tmp_path: Path) -> None:
    hull = Path(sys.executable).parent / "hull"
    port = free_port()
    p = subprocess.Popen(
        [str(hull), "registry", "serve", "--addr", f"127.0.0.1:{port}", "--root", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as r:
                    assert r.status == 200
                    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        p.terminate()
        p.wait(timeout=10)
