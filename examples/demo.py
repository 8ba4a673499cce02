"""The demo: image -> snapshot -> OCI spec -> hull-runtime, through hull's own layers.

1. bootstrap a busybox image from Debian's busybox-static into a fresh store,
2. prepare a writable overlay snapshot of it and mount it as the rootfs,
3. generate the container's config.json with Docker's defaults and limits,
4. run it with hull-runtime and show what the container sees.

Everything lives in a temporary data root that is removed at the end.
(Until hulld runs containers, this drives the layers directly.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from hull.engine.config import parse_create_body
from hull.engine.spec import generate_spec
from hull.images import ImageService
from hull.images.bootstrap import bootstrap_busybox
from hull.oci.image_spec import ImageConfig

SCRIPT = r"""
echo "pid inside:       $$"
echo "hostname:         $(hostname)"
echo "user:             $(id)"
echo "capabilities:     $(grep CapEff /proc/self/status | cut -f2)"
echo "interfaces:       $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
cg=/sys/fs/cgroup
echo "memory limit:     $(cat $cg/memory/memory.limit_in_bytes 2>/dev/null || cat $cg/memory.max)"
echo "pids limit:       $(cat $cg/pids/pids.max 2>/dev/null || cat $cg/pids.max)"
q=$(cat $cg/cpu/cpu.cfs_quota_us 2>/dev/null); p=$(cat $cg/cpu/cpu.cfs_period_us 2>/dev/null)
echo "cpu quota/period: $q/$p"
echo "unshare -m:       $(unshare -m true 2>&1 || true)"
echo "mounts:"
cut -d' ' -f5,9 /proc/self/mountinfo | sed 's/^/  /'
"""


def main(runtime: str) -> int:
    """Run the demo; returns the container's exit code."""
    base = Path(tempfile.mkdtemp(prefix="hull-demo-"))
    base.chmod(0o755)
    cid = f"demo-{uuid.uuid4().hex[:8]}"
    rootfs = base / "bundle" / "rootfs"
    rootfs.mkdir(parents=True)
    svc = ImageService(base / "data")
    mounted = False
    try:
        print("$ hull bootstrap busybox   (from Debian's busybox-static)")
        image = bootstrap_busybox(svc, "busybox:latest")
        print(f"  busybox:latest  {image.id}")
        svc.snapshots.prepare(cid, svc.unpack(image))
        svc.snapshots.mount(cid, rootfs)
        mounted = True
        print(f"  overlay snapshot {cid} mounted at {rootfs}")
        req = parse_create_body(
            {
                "Image": "busybox:latest",
                "Hostname": "hull-demo",
                "Cmd": ["sh", "-c", SCRIPT],
                "HostConfig": {"Memory": 64 << 20, "PidsLimit": 32, "NanoCpus": 500_000_000},
            }
        )
        spec = generate_spec(
            ImageConfig.from_bytes(image.config),
            req.config,
            req.host_config,
            container_id=cid,
            rootfs=str(rootfs),
            hostname="hull-demo",
            cgroups_path=f"/hull/{cid}",
        )
        (base / "bundle" / "config.json").write_text(json.dumps(spec, indent=2))
        print(f"$ hull-runtime run --bundle {base / 'bundle'} {cid}")
        sys.stdout.flush()
        return subprocess.run([runtime, "run", "--bundle", str(base / "bundle"), cid]).returncode
    finally:
        if mounted:
            svc.snapshots.unmount(rootfs)
        try:
            svc.snapshots.remove(cid)
        except Exception:
            pass
        svc.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "hull-runtime"))
