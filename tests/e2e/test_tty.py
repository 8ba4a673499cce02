"""``run -it`` and ``exec -it`` on a real pseudo-terminal, as a user types them.

The client (docker's CLI and ours) runs with a pty as its terminal: it must
put it in raw mode, the container must see a tty of its own, keystrokes go
in, output comes back with the container's line discipline, and the exit
status of the shell becomes the client's.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import requires_root
from tests.e2e.test_containers_api import docker, hulld  # noqa: F401 - the fixture
from tests.e2e.test_daemon_basics import docker_cli

pytestmark = [requires_root]


class Terminal:
    """A client process whose stdin, stdout and stderr are a pty's slave side."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.seen = b""

    def expect(self, text: bytes, timeout: float = 15) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError(f"no {text!r} on the terminal; it shows {self.seen!r}")
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: the client closed the terminal
                data = b""
            if not data:
                raise AssertionError(f"terminal closed before {text!r}; it showed {self.seen!r}")
            self.seen += data
        return self.seen

    def send(self, text: bytes) -> None:
        os.write(self.master, text)

    def wait(self, timeout: float = 20) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            os.close(self.master)


def clients(tmp: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    env = dict(
        os.environ, DOCKER_HOST=f"unix://{tmp}/hull.sock", HULL_HOST=f"unix://{tmp}/hull.sock"
    )
    env["DOCKER_CONFIG"] = str(tmp / "docker-config")
    env.pop("DOCKER_CONTEXT", None)
    hull = [sys.executable, "-c", "import sys; from hull.cli.main import main; sys.exit(main())"]
    return {"docker": ([docker_cli()], env), "hull": (hull, env)}


@pytest.mark.parametrize("client", ["docker", "hull"])
def test_run_it_on_a_pty(hulld: Path, client: str) -> None:  # noqa: F811
    argv, env = clients(hulld)[client]
    t = Terminal([*argv, "run", "-it", "--rm", "--network", "none", "busybox", "sh"], env)
    t.expect(b"# ")  # root's prompt: the shell knows it is interactive
    t.send(b"tty; echo $((6*7)); stty size\r")
    out = t.expect(b"42")
    assert b"/dev/pts/0" in out  # a pty inside the container, not the host's
    t.send(b"exit 5\r")
    assert t.wait() == 5


def test_exec_it_on_a_pty(hulld: Path) -> None:  # noqa: F811
    argv, env = clients(hulld)["docker"]
    r = docker(hulld, "run", "-d", "--network", "none", "--name", "box", "busybox", "sleep", "60")
    assert r.returncode == 0, r.stderr
    t = Terminal([*argv, "exec", "-it", "box", "sh"], env)
    t.expect(b"# ")
    t.send(b"echo in-$((1+1)); cat /proc/1/cmdline | tr '\\0' ' '; echo\r")
    out = t.expect(b"sleep 60")
    assert b"in-2" in out
    t.send(b"exit 3\r")
    assert t.wait() == 3
    assert docker(hulld, "rm", "-f", "box").returncode == 0
