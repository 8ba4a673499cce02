"""The demo: bootstrap a base image, build the example image, run a container from it.

Everything goes through a private ``hulld`` (its own data root, exec root
and socket under a temp directory) and the ``hull`` CLI, as a user would:

1. ``hull bootstrap busybox``: a base image from Debian's busybox-static,
2. ``hull build -t hull-demo:1 examples/app``: the Dockerfile, layer by layer,
3. ``hull run --rm`` with memory, pids and CPU limits on the default bridge:
   the container prints what it sees,
4. the same build again: every step comes from the cache.

At the end the daemon, its monitor, its network and the temp directory go.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def hull(bindir: Path, sock: Path, *args: str, check: bool = True) -> int:
    print("$ hull " + " ".join(args), flush=True)
    env = dict(os.environ, HULL_HOST=f"unix://{sock}")
    rc = subprocess.run([str(bindir / "hull"), *args], env=env).returncode
    if check and rc != 0:
        raise SystemExit(f"demo: 'hull {args[0]}' failed with exit status {rc}")
    return rc


def main(bindir: Path) -> int:
    base = Path(tempfile.mkdtemp(prefix="hull-demo-"))
    base.chmod(0o755)
    sock, run_dir = base / "hull.sock", base / "run"
    log = open(base / "hulld.log", "wb")  # noqa: SIM115 - closed in finally
    daemon = subprocess.Popen(
        [str(bindir / "hulld"), "--data-root", str(base / "data"), "--exec-root", str(run_dir),
         "-H", f"unix://{sock}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            if daemon.poll() is not None or time.monotonic() > deadline:
                print((base / "hulld.log").read_text(), file=sys.stderr)
                raise SystemExit("demo: hulld did not start")
            time.sleep(0.05)
        hull(bindir, sock, "bootstrap", "busybox")
        hull(bindir, sock, "build", "-t", "hull-demo:1", "--build-arg", "GREETING=hello",
             str(HERE / "app"))  # fmt: skip
        rc = hull(bindir, sock, "run", "--rm", "--hostname", "hull-demo", "-m", "64m",
                  "--pids-limit", "32", "--cpus", "0.5", "hull-demo:1", check=False)  # fmt: skip
        hull(bindir, sock, "build", "-q", "-t", "hull-demo:1", "--build-arg", "GREETING=hello",
             str(HERE / "app"))  # fmt: skip
        print("(the rebuild ran nothing: every step came from the cache)")
        hull(bindir, sock, "images")
        return rc
    finally:
        # quietly, and whatever happened: a reader that went away (| head) must
        # not leave the daemon, its network or its mounts behind
        env = dict(os.environ, HULL_HOST=f"unix://{sock}")
        subprocess.run([str(bindir / "hull"), "system", "reset", "-f"], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        pidfile = run_dir / "monitor" / "monitor.pid"
        if pidfile.exists():  # the monitor outlives hulld by design
            try:
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
                time.sleep(0.5)
            except (ProcessLookupError, ValueError):
                pass
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if line.split()[4].startswith(str(base))]
        for m in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(sys.executable).parent))
