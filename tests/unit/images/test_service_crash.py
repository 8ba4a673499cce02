"""SIGKILL during add_layer / create_image / unpack leaves a store that works and gc cleans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hull import metadata as md
from hull.images import ImageService

REPO = Path(__file__).resolve().parents[3]

CHILD = r"""
import io, os, sys, tarfile
from hull.images import ImageService
from hull.oci.image_config import ImageConfig, RootFS
svc = ImageService(sys.argv[1], snapshotter="vfs", durable=False)
n = 0
while True:
    n += 1
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for i in range(8):
            data = os.urandom(256 * 1024)
            info = tarfile.TarInfo(f"f{n}-{i}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    blob = svc.add_layer(io.BytesIO(buf.getvalue()), compress=(n % 2 == 0))
    config = ImageConfig("amd64", "linux", RootFS((blob.diff_id,)), created="2024-01-01T00:00:00Z")
    svc.create_image(config, [blob], tags=[f"crash:{n % 3}"])
    svc.unpack(f"crash:{n % 3}")
    svc.remove(f"crash:{(n + 1) % 3}") if n > 3 else None
    print(n, flush=True)
"""


def _run_and_kill(root: Path, delay: float) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(delay)
        assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def test_sigkill_leaves_a_consistent_store(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for delay in (0.9, 1.13, 1.37, 1.61, 1.85):
        _run_and_kill(root, delay)
        with ImageService(root, snapshotter="vfs", durable=False) as svc:
            assert svc.db.integrity_check() in ([], ["ok"])
            for record in md.list_images(svc.db):  # every image is whole
                assert svc.content.exists(record.id)
                assert record.manifest_digest is not None
                assert svc.content.exists(record.manifest_digest)
                for layer in record.layers:
                    assert layer.digest is not None and svc.content.exists(layer.digest)
                assert svc.unpack(str(record.id)) == record.layers[-1].chain_id
    with ImageService(root, snapshotter="vfs", durable=False) as svc:
        images = md.list_images(svc.db)
        assert images, "the child never created an image"
        # the next operations succeed
        svc.tag(str(images[0].id), "after:crash")
        svc.remove("after:crash", force=True)
        # a gc once the crashed operations' leases expired leaves exactly what images use
        md.expire_leases(svc.db, now=time.time() + 10 * 3600)
        svc.gc(stale_ingest_seconds=0)
        left = md.list_images(svc.db)
        want = set()
        chains = set()
        for r in left:
            want |= {r.id, r.manifest_digest, *(x.digest for x in r.layers)}
            chains |= {str(x.chain_id) for x in r.layers}
        assert set(svc.content.list()) == want
        assert svc.content.ingests() == []
        assert {s.name for s in svc.snapshots.list()} == chains
        assert not [n for n in os.listdir(svc.snapshots.root / "layers") if n.startswith("tmp-")]
