"""podman driving hull-runtime through its --runtime flag (conmon and all).

podman gets a private storage root, run root and tmpdir, so the test never
touches the user's images or containers, and --network none, so netavark
never writes firewall rules on the host. This host needs explicit ulimits
(nofile above its hard limit of 20000, nproc above conmon's) for podman with
any runtime, runc included.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import INIT_EXECUTORS, hull_binary, is_root

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root and a real kernel")


def podman(base: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("podman")
    if exe is None:
        pytest.fail("podman is not installed (apt-get install podman)")
    cmd = [
        exe,
        "--root", str(base / "storage"),
        "--runroot", str(base / "run"),
        "--tmpdir", str(base / "tmp"),
        "--storage-driver", "vfs",
        "--cgroup-manager", "cgroupfs",
        "--events-backend", "file",
        *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.parametrize("executor", INIT_EXECUTORS)
def test_podman_run_with_hull_runtime(
    busybox_rootfs: Path, tmp_path: Path, pyinit_runtime_path: str, executor: str
) -> None:
    import tempfile

    runtime = hull_binary(executor, pyinit_runtime_path)

    # podman refuses a run root longer than 50 characters: pytest's are longer
    base = Path(tempfile.mkdtemp(prefix="hull-podman-"))
    tar = tmp_path / "busybox.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(busybox_rootfs, arcname=".")
    try:
        res = podman(base, "import", str(tar), "localhost/hull-test-busybox")
        assert res.returncode == 0, res.stderr
        res = podman(
            base,
            "--runtime", runtime,
            "run", "--rm", "--network", "none", "--hostname", "podman-hull",
            "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
            "localhost/hull-test-busybox",
            "sh", "-c", "echo pid=$$; hostname; exit 3",
        )  # fmt: skip
        assert res.returncode == 3, res.stderr
        assert res.stdout.split() == ["pid=1", "podman-hull"]
        res = podman(
            base,
            "--runtime", runtime,
            "run", "--rm", "--network", "none",
            "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096",
            "localhost/hull-test-busybox", "true",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
    finally:
        podman(base, "rm", "--all", "--force")
        podman(base, "system", "reset", "--force")
        subprocess.run(["umount", "-R", str(base / "storage")], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)
