"""RUN steps: a minimal OCI bundle on the step's snapshot, run by ``hull-runtime run``.

The builder mounts the step's writable snapshot at ``<bundle>/rootfs``; this
module writes ``config.json`` and runs the OCI runtime as a subprocess
(runc's command-line contract, so any runtime works) under a state root of
the builder's own, with a unique id. Its stdout and stderr go to one pipe
read line by line for the progress stream. The container is always deleted
(``delete --force``), also when the build is cancelled or fails.

The spec is Docker's for a RUN container, smaller: Docker's default
capabilities, the runtime's default mounts, masked and read-only paths, the
host's ``/etc/resolv.conf`` and ``/etc/hosts`` (over the image's own). Network: ``host`` shares the
host's network namespace (the builder's default, as BuildKit's; there is no
bridge to attach a build to), ``none`` gives a private namespace with only
``lo``. Mount points a RUN needs that do not exist in the image (a secret's
``/run/secrets/x``) are created by the runtime in the upper dir: ``Stubs``
records them before the run and removes them after, so no trace of a mount
lands in the layer.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hull.errors import HullError
from hull.runtime.defaults import MASKED_PATHS, READONLY_PATHS, default_mounts
from hull.runtime.rootfs import secure_join

__all__ = ["DEFAULT_PATH", "RunFailed", "RunRequest", "Stubs", "run_container", "run_spec"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's default capability set (moby daemon/pkg/oci/caps/defaults.go).
_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]  # fmt: skip


class RunFailed(HullError):
    """A RUN command exited non-zero; ``exit_code`` and its output's tail."""

    kind = "invalid_argument"

    def __init__(self, message: str, exit_code: int, output: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.output = output


@dataclass
class RunRequest:
    """What one RUN container needs."""

    args: list[str]
    env: list[str]
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    gids: list[int] = field(default_factory=list)
    network: str = "host"  # host | none
    mounts: list[dict[str, Any]] = field(default_factory=list)
    hostname: str = "buildkitsandbox"


def run_spec(rootfs: Path, req: RunRequest, cgroups_path: str) -> dict[str, Any]:
    """The ``config.json`` of a RUN container on ``rootfs``."""
    namespaces = ["pid", "ipc", "uts", "mount"]
    if req.network == "none":
        namespaces.append("network")
    mounts = default_mounts()
    mounts[-1]["options"] = ["nosuid", "noexec", "nodev", "relatime", "ro"]
    for host_file in ("/etc/resolv.conf", "/etc/hosts"):
        # only over a file the image has: a new mount point would dirty the layer
        inside = secure_join(str(rootfs), host_file)
        if req.network == "host" and os.path.isfile(host_file) and os.path.isfile(inside):
            mounts.append(
                {"destination": host_file, "type": "bind", "source": host_file,
                 "options": ["rbind", "ro", "nosuid", "nodev"]}
            )  # fmt: skip
    mounts.extend(req.mounts)
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": req.uid, "gid": req.gid, "additionalGids": list(req.gids)},
            "args": list(req.args),
            "env": list(req.env),
            "cwd": req.cwd or "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": False,
        },
        "root": {"path": str(rootfs), "readonly": False},
        "hostname": req.hostname,
        "mounts": mounts,
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in namespaces],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }


class Stubs:
    """Mount points missing from the rootfs before a run, removed after it."""

    def __init__(self, rootfs: Path, destinations: Sequence[str]) -> None:
        self.rootfs = str(rootfs)
        self.missing: list[str] = []
        for dest in destinations:
            parts = [p for p in dest.split("/") if p]
            for i in range(1, len(parts) + 1):
                sub = "/" + "/".join(parts[:i])
                full = secure_join(self.rootfs, sub)
                if not os.path.lexists(full):
                    self.missing.append(full)
                    break

    def remove(self) -> None:
        """Remove each stub left at a recorded mount point (empty dirs and files only)."""
        for top in reversed(self.missing):
            _remove_stub(top)


def _remove_stub(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            for name in os.listdir(path):
                _remove_stub(os.path.join(path, name))
            os.rmdir(path)
        elif os.path.isfile(path) and os.path.getsize(path) == 0:
            os.unlink(path)
    except OSError:
        pass  # the RUN put something there itself: it belongs to the layer


def run_container(
    runtime: str,
    state_root: Path,
    bundle: Path,
    spec: dict[str, Any],
    cid: str,
    *,
    on_output: Callable[[bytes], None],
    cancelled: Callable[[], bool] = lambda: False,
) -> int:
    """Run the container to its end; its exit code. Output goes to ``on_output`` by line."""
    (bundle / "config.json").write_text(json.dumps(spec))
    state_root.mkdir(parents=True, exist_ok=True)
    base = [runtime, "--root", str(state_root)]
    proc = subprocess.Popen(
        [*base, "run", "--bundle", str(bundle), cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        close_fds=True,
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    killed = False
    try:
        while True:
            if cancelled() and not killed:
                killed = True
                subprocess.run([*base, "kill", cid, "KILL"], capture_output=True, timeout=30)
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                on_output(line + b"\n")
        if buf:
            on_output(buf)
        return proc.wait()
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if (state_root / cid).exists():
            subprocess.run([*base, "delete", "--force", cid], capture_output=True, timeout=30)
            deadline = time.monotonic() + 5
            while (state_root / cid).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
