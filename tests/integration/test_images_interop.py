"""hull save/load against the real peers: a private dockerd, and skopeo.

The dockerd runs with its own data root, exec root, socket and pid file,
and ``--bridge none --iptables=false --ip-masq=false``, so it never touches
the host's docker0 or firewall; it is stopped (SIGTERM) and its directories
removed (after unmounting what it left) when the module ends.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hull.images import ImageService, bootstrap_busybox, load, save

REPO = Path(__file__).resolve().parents[2]
DOCKER = "/usr/bin/docker"

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run dockerd"),
]


def _umount_under(path: Path) -> None:
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for p in sorted((p for p in points if p.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", p], capture_output=True, check=False)


class Dockerd:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.sock = base / "docker.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.base / "dockerd.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                "dockerd",
                "--data-root", str(self.base / "docker"),
                "--exec-root", str(self.base / "exec"),
                "--host", f"unix://{self.sock}",
                "--pidfile", str(self.base / "docker.pid"),
                "--bridge", "none",
                "--iptables=false",
                "--ip-masq=false",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.base / "dockerd.log").read_text()[-2000:])
            if self.sock.exists() and self("version").returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("dockerd did not come up in 45 s")

    def __call__(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [DOCKER, "-H", f"unix://{self.sock}", *args], capture_output=True, text=True, timeout=60
        )
        if check and res.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {res.stderr}")
        return res

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _umount_under(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    if not (shutil.which("dockerd") and Path(DOCKER).exists()):
        subprocess.run([str(REPO / "scripts" / "apt-install.sh"), "docker.io"], check=False)
    if not (shutil.which("dockerd") and Path(DOCKER).exists()):
        pytest.fail("docker.io is not installed (apt-get install docker.io)")
    d = Dockerd(Path(tempfile.mkdtemp(prefix="hull-dockerd-")))
    try:
        d.start()
        yield d
    finally:
        d.stop()


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    s = ImageService(tmp_path / "root", durable=False)
    try:
        yield s
    finally:
        s.close()
        _umount_under(tmp_path)


def _inspect(d: Dockerd, name: str) -> dict[str, object]:
    out = json.loads(d("image", "inspect", name, check=True).stdout)
    assert isinstance(out, list)
    return dict(out[0])


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_docker_loads_our_save(
    dockerd: Dockerd, svc: ImageService, tmp_path: Path, fmt: str
) -> None:
    image = bootstrap_busybox(svc, f"hull-bb-{fmt}:1")
    out = tmp_path / "out.tar"
    with open(out, "wb") as f:
        save(svc, [f"hull-bb-{fmt}:1"], f, format=fmt)  # type: ignore[arg-type]
    res = dockerd("load", "-i", str(out), check=True)
    assert f"Loaded image: hull-bb-{fmt}:1" in res.stdout
    info = _inspect(dockerd, f"hull-bb-{fmt}:1")
    assert info["Id"] == str(image.id)
    assert info["RootFS"] == {"Type": "layers", "Layers": [str(x.diff_id) for x in image.layers]}
    run = dockerd("run", "--rm", "--network", "none", f"hull-bb-{fmt}:1", "sh", "-c", "echo ok")
    assert run.stdout.strip() == "ok", run.stderr


def test_we_load_docker_save(dockerd: Dockerd, svc: ImageService, tmp_path: Path) -> None:
    # an image docker made itself (its own config JSON, created by docker import)
    rootfs = io.BytesIO()
    with tarfile.open(fileobj=rootfs, mode="w") as t:
        data = b"from docker\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    (tmp_path / "rootfs.tar").write_bytes(rootfs.getvalue())
    dockerd("import", "-c", 'CMD ["sh"]', str(tmp_path / "rootfs.tar"), "dmade:1", check=True)
    theirs = _inspect(dockerd, "dmade:1")
    dockerd("save", "-o", str(tmp_path / "d.tar"), "dmade:1", check=True)
    with open(tmp_path / "d.tar", "rb") as f:
        assert load(svc, f) == ["dmade:1"]
    ours = svc.inspect("dmade:1")
    assert ours["Id"] == theirs["Id"]
    assert ours["RootFS"]["Layers"] == theirs["RootFS"]["Layers"]  # type: ignore[index]
    assert ours["Config"]["Cmd"] == ["sh"]
    assert ours["Comment"] == theirs["Comment"]
    # and back: docker loads what we save of its image, same ID
    dockerd("rmi", "dmade:1", check=True)
    with open(tmp_path / "back.tar", "wb") as f:
        save(svc, ["dmade:1"], f)
    dockerd("load", "-i", str(tmp_path / "back.tar"), check=True)
    assert _inspect(dockerd, "dmade:1")["Id"] == theirs["Id"]


def test_skopeo_reads_our_oci_archive_and_we_read_skopeos(
    svc: ImageService, tmp_path: Path
) -> None:
    if shutil.which("skopeo") is None:
        subprocess.run([str(REPO / "scripts" / "apt-install.sh"), "skopeo"], check=False)
    image = bootstrap_busybox(svc)
    ours = tmp_path / "ours.tar"
    with open(ours, "wb") as f:
        save(svc, ["busybox"], f, format="oci")
    res = subprocess.run(
        ["skopeo", "copy", f"oci-archive:{ours}:busybox:latest", f"dir:{tmp_path / 'x'}"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "x" / image.id.hex).exists()  # the config, same bytes
    docker_archive = tmp_path / "d.tar"
    with open(docker_archive, "wb") as f:
        save(svc, ["busybox"], f, format="docker")
    oci = tmp_path / "sk.tar"
    res = subprocess.run(
        ["skopeo", "copy", f"docker-archive:{docker_archive}", f"oci-archive:{oci}:sk:1"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    with ImageService(tmp_path / "other", durable=False) as other:
        with open(oci, "rb") as f:
            assert load(other, f) == ["sk:1"]
        assert [x.diff_id for x in other.resolve("sk:1").layers] == [
            x.diff_id for x in image.layers
        ]
