"""``POST /build`` through hulld as a process: the docker CLI's classic builder, docker-py, hull.

One hulld per module on a temp data root, exec root and socket; ``hull
bootstrap busybox`` makes the base. Teardown stops hulld, the monitor (if
the engine started one) by its pid file, unmounts what is left, and deletes
the temp tree.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, requires_root
from tests.e2e.test_daemon_basics import docker_cli, hull, hulld_cmd, wait_socket
from tests.unit.api.test_containers_routes import stop_monitor, unmount_under

pytestmark = [requires_root]

DOCKERFILE = """FROM busybox
ARG V=1
COPY a.txt /a.txt
RUN echo "v=$V" > /v.txt && cat /a.txt
CMD ["cat", "/v.txt"]
"""


def docker(tmp: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp}/hull.sock", DOCKER_BUILDKIT="0",
               DOCKER_CONFIG=str(tmp / "docker-config"))  # fmt: skip
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run([docker_cli(), *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=cwd, stdin=subprocess.DEVNULL)  # fmt: skip


def hull_in(
    tmp: Path, *args: str, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HULL_HOST=f"unix://{tmp}/hull.sock")
    cmd = [sys.executable, "-c", "import sys; from hull.cli.main import main; sys.exit(main())"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=120,
                          cwd=cwd, input=stdin)  # fmt: skip


@pytest.fixture(scope="module")
def hulld() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="hull-e2e-build-"))
    proc = subprocess.Popen(hulld_cmd(tmp), stderr=subprocess.PIPE, cwd=REPO)
    try:
        wait_socket(tmp / "hull.sock", proc)
        r = hull(tmp, "bootstrap", "busybox")
        assert r.returncode == 0, r.stderr
        yield tmp
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stop_monitor(tmp / "run")
        unmount_under(tmp)
        shutil.rmtree(tmp, ignore_errors=True)


def context(tmp: Path, name: str) -> Path:
    d = tmp / name
    d.mkdir()
    (d / "Dockerfile").write_text(DOCKERFILE)
    (d / "a.txt").write_text("from a\n")
    return d


def test_docker_cli_classic_build(hulld: Path) -> None:
    ctx = context(hulld, "ctx-docker")
    r = docker(hulld, "build", "-t", "dk:1", "--build-arg", "V=2", ".", cwd=ctx)
    assert r.returncode == 0, r.stderr
    assert "Step 1/5 : FROM busybox" in r.stdout and "from a" in r.stdout
    assert "Successfully tagged dk:1" in r.stdout
    r = docker(hulld, "build", "-t", "dk:1", "--build-arg", "V=2", ".", cwd=ctx)
    assert r.stdout.count("Using cache") == 4, r.stdout
    r = docker(hulld, "build", "-q", "--iidfile", str(hulld / "iid"), ".", cwd=ctx)
    assert r.returncode == 0 and r.stdout.strip().startswith("sha256:"), r.stderr
    assert (hulld / "iid").read_text().strip() == r.stdout.strip()
    r = docker(hulld, "image", "inspect", "--format", "{{json .Config.Cmd}}", "dk:1")
    assert (r.returncode, r.stdout) == (0, '["cat","/v.txt"]\n'), r.stderr
    r = docker(hulld, "history", "--format", "{{.CreatedBy}}", "dk:1")
    assert "RUN echo" in r.stdout, r.stdout
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo failing; exit 3\n")
    r = docker(hulld, "build", ".", cwd=ctx)
    assert r.returncode != 0
    assert "did not complete successfully: exit code: 3" in r.stderr, r.stderr


def test_docker_py_build(hulld: Path) -> None:
    docker_sdk = pytest.importorskip("docker")
    ctx = context(hulld, "ctx-py")
    client = docker_sdk.DockerClient(base_url=f"unix://{hulld}/hull.sock", timeout=120)
    try:
        image, logs = client.images.build(path=str(ctx), tag="py:1", buildargs={"V": "3"})
        assert "py:1" in image.tags
        assert any("Successfully built" in str(x.get("stream", "")) for x in logs)
        assert image.attrs["Config"]["Cmd"] == ["cat", "/v.txt"]
        image2, _ = client.images.build(fileobj=io.BytesIO(b"FROM busybox\nLABEL x=y\n"))
        assert image2.labels == {"x": "y"}
        with pytest.raises(docker_sdk.errors.BuildError, match="exit code: 4"):
            client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 4\n"))
    finally:
        client.close()


def test_hull_cli_build(hulld: Path) -> None:
    ctx = context(hulld, "ctx-hull")
    (hulld / "tok").write_text("hidden")
    (ctx / "Dockerfile").write_text(
        DOCKERFILE + "RUN --mount=type=secret,id=tok test -s /run/secrets/tok\n"
    )
    r = hull_in(hulld, "build", "-t", "hl:1", "--progress", "plain", "--secret",
                f"id=tok,src={hulld / 'tok'}", ".", cwd=ctx)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "#1 [1/6] FROM busybox" in r.stderr and "naming to hl:1" in r.stderr
    r = hull_in(hulld, "build", "-q", "--secret", f"id=tok,src={hulld / 'tok'}", ".", cwd=ctx)
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    (ctx / "a.txt").write_text("changed\n")
    r = hull_in(hulld, "build", "--progress", "plain", "--secret", f"id=tok,src={hulld / 'tok'}",
                "-t", "hl:1", ".", cwd=ctx)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "#2 CACHED" in r.stderr
    assert "#3 cache miss: files changed: a.txt" in r.stderr
    # a Dockerfile on stdin, no context
    r = hull_in(hulld, "build", "-q", "-", cwd=ctx, stdin="FROM busybox\nENV X=1\n")
    assert r.returncode == 0 and r.stdout.startswith("sha256:"), r.stderr
    r = hull_in(hulld, "build", "-", cwd=ctx, stdin="FROM busybox\nRUN exit 5\n")
    assert r.returncode == 1 and "exit code: 5" in r.stderr
    r = hull_in(hulld, "build", "-f", "nope", ".", cwd=ctx)
    assert r.returncode == 1 and "Cannot locate specified Dockerfile" in r.stderr
    # the cache goes with builder prune: the next build runs every step again
    r = hull_in(hulld, "builder", "prune", "-f", cwd=ctx)
    assert r.returncode == 0 and "Deleted build cache objects:" in r.stdout, r.stderr
    assert "Total reclaimed space:" in r.stdout
    r = hull_in(hulld, "build", "--progress", "plain", "--secret", f"id=tok,src={hulld / 'tok'}",
                "-t", "hl:1", ".", cwd=ctx)  # fmt: skip
    assert r.returncode == 0 and "CACHED" not in r.stderr, r.stderr
