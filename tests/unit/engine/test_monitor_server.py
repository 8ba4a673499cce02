"""The monitor process without containers: lifecycle, errors, protocol over its socket."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hull import errors
from hull.engine.monitor.client import MonitorClient, ensure_monitor, read_line


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture
def state_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="hmon-u-"))
    d = base / "monitor"
    try:
        yield d
    finally:
        with contextlib.suppress(FileNotFoundError, ValueError):
            pid = int((d / "monitor.pid").read_text())
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_lifecycle_and_errors(state_dir: Path) -> None:
    pid = ensure_monitor(state_dir)
    assert ensure_monitor(state_dir) == pid  # running: reused
    sock = state_dir / "monitor.sock"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert int((state_dir / "monitor.pid").read_text()) == pid
    c = MonitorClient(state_dir)
    assert c.ping() == pid
    assert c.list() == []
    with pytest.raises(errors.NotFound, match="no such container: nope"):
        c.wait("nope")
    with pytest.raises(errors.NotFound):
        c.kill("nope", 9)
    with pytest.raises(errors.ContainerExit) as ei:
        c.start("x1", "/nonexistent", runtime="/no/such/runtime", runtime_root="/tmp/r")
    assert ei.value.exit_code == 127
    assert c.list() == []
    # malformed lines get an error reply and the connection stays usable
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        s.sendall(b"{not json\n" + b'{"op":"start"}\n' + b'{"op":"ping"}\n')
        assert read_line(s)["kind"] == "invalid_argument"
        assert "'id' is required" in read_line(s)["error"]
        assert read_line(s)["pid"] == pid
    # a second monitor on the same directory refuses
    res = subprocess.run(
        [sys.executable, "-m", "hull.engine.monitor", "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert res.returncode == 1 and "another monitor" in res.stderr
    assert c.ping() == pid
    # SIGTERM with nothing running: it exits and removes its socket
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 5
    while not _gone(pid) and time.time() < deadline:
        time.sleep(0.02)
    assert _gone(pid)
    assert not sock.exists()
    with pytest.raises(errors.Unavailable):
        c.ping()


def test_events_subscription_is_live(state_dir: Path) -> None:
    ensure_monitor(state_dir)
    c = MonitorClient(state_dir)
    it = c.events()
    it.close()  # a subscriber that leaves does not disturb the monitor
    assert c.ping() > 0
