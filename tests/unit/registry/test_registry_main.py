"""``python -m hull.registry serve``: flags, TLS, shutdown; the package's public API."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hull.registry
from hull.registry.main import parse_addr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def test_public_api() -> None:
    for name in hull.registry.__all__:
        assert getattr(hull.registry, name) is not None
    assert set(hull.registry.__all__) >= {"Registry", "RegistryConfig", "collect_garbage", "serve"}


def test_parse_addr() -> None:
    assert parse_addr("127.0.0.1:5000") == ("127.0.0.1", 5000)
    assert parse_addr("[::1]:80") == ("::1", 80)
    with pytest.raises(Exception, match="HOST:PORT"):
        parse_addr("nope")


@pytest.mark.skipif(not os.path.exists("/usr/bin/openssl"), reason="needs openssl")
def test_serve_tls_read_only(tmp_path: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hull.registry", "serve", "--addr", f"127.0.0.1:{port}",
         "--root", str(tmp_path / "root"), "--tls-cert", str(tmp_path / "cert.pem"),
         "--tls-key", str(tmp_path / "key.pem"), "--read-only", "--log-level", "warning"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait(port)
        ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        ctx.check_hostname = False
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        conn.request("GET", "/v2/")
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read()) == {}
        assert r.getheader("Docker-Distribution-API-Version") == "registry/2.0"
        conn.request("POST", "/v2/x/blobs/uploads/")
        r = conn.getresponse()
        assert r.status == 405
        assert json.loads(r.read())["errors"][0]["code"] == "UNSUPPORTED"
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        proc.stderr.close()


def test_plain_server_answers_a_tls_hello_at_once(tmp_path: Path) -> None:
    # clients that "skip verification" try TLS first and fall back to HTTP
    from tests.unit.registry.regserver import RunningRegistry

    reg = RunningRegistry(tmp_path / "root")
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        start = time.monotonic()
        with (
            socket.create_connection((reg.host, reg.port), 5) as raw,
            pytest.raises(ssl.SSLError),
        ):
            ctx.wrap_socket(raw)
        assert time.monotonic() - start < 2
        assert reg.request("GET", "/v2/").status == 200
    finally:
        reg.close()
