"""Fixtures shared by every test: a busybox rootfs, bundles, runtimes.

Everything a test makes lives under its own temp directory (state root,
bundle, cgroup under a unique name) and is removed even when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def is_root() -> bool:
    return os.geteuid() == 0


def hull_runtime_path() -> str:
    """The fast launcher if ``make`` wrote it, else the module through this Python."""
    venv = Path(sys.executable).parent / "hull-runtime"
    if venv.exists():
        return str(venv)
    return str(REPO / ".venv" / "bin" / "hull-runtime")


requires_root = pytest.mark.skipif(not is_root(), reason="needs root and a real kernel")


def make_busybox_rootfs(dest: Path) -> Path:
    """A minimal rootfs: static busybox with every applet linked, /etc/passwd, group."""
    if not Path(BUSYBOX).exists():
        pytest.fail("busybox-static is not installed (apt-get install busybox-static)")
    bindir = dest / "bin"
    bindir.mkdir(parents=True)
    shutil.copy2(BUSYBOX, bindir / "busybox")
    applets = subprocess.run(
        [str(bindir / "busybox"), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for a in applets:
        if a != "busybox":
            (bindir / a).symlink_to("busybox")
    for d in ("proc", "sys", "dev", "etc", "tmp", "root", "usr/bin", "sbin"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    (dest / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (dest / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return dest


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[Path]:
    """A busybox rootfs shared read-only by the whole session.

    Not under pytest's tmp_path: that is mode 0700, which a container root
    mapped to another host uid (user namespace tests) cannot traverse.
    """
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="hull-test-rootfs-"))
    base.chmod(0o755)
    try:
        yield make_busybox_rootfs(base / "rootfs")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def base_config(rootfs: Path, args: list[str]) -> dict[str, Any]:
    """runc's default spec, non-interactive, with an absolute read-only root."""
    from hull.runtime.defaults import default_spec

    cfg = default_spec(args, terminal=False)
    cfg["root"] = {"path": str(rootfs), "readonly": True}
    cfg["mounts"].append(
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}
    )
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    return cfg


def remove_cgroup_prefix(prefix: str) -> None:
    """rmdir ``prefix`` and what is left under it, in every cgroup hierarchy of this host.

    Runtimes remove a container's own cgroup, not the parents its
    cgroupsPath created (runc neither): a test that chose the parent removes it.
    """
    root = Path("/sys/fs/cgroup")
    for hierarchy in [root, *(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())]:
        top = hierarchy / prefix.lstrip("/")
        if not top.is_dir():
            continue
        for dirpath, _dirs, _files in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)


class Runtime:
    """One OCI runtime binary with a private state root; cleans up its containers."""

    def __init__(self, name: str, binary: str, root: Path) -> None:
        self.name = name
        self.binary = binary
        self.root = root
        self.cgroup_prefix = f"/hull-test-{uuid.uuid4().hex[:8]}"

    def cmd(self, *args: str) -> list[str]:
        return [self.binary, "--root", str(self.root), *args]

    def __call__(
        self, *args: str, timeout: float = 30, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        # files, not pipes: a created or detached container inherits stdio
        # and would hold a pipe open long after the runtime returned
        import tempfile

        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            res = subprocess.run(
                self.cmd(*args),
                stdin=subprocess.DEVNULL if input is None else None,
                input=input,
                stdout=out,
                stderr=err,
                timeout=timeout,
                check=False,
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(
                res.args, res.returncode, out.read().decode(), err.read().decode()
            )

    def cleanup(self) -> None:
        if not self.root.exists():
            return
        for cid in os.listdir(self.root):
            subprocess.run(self.cmd("delete", "--force", cid), capture_output=True, timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)
        remove_cgroup_prefix(self.cgroup_prefix)


# hull-runtime runs init in C where the config allows (hull/runtime/initplan.py)
# and in Python otherwise; "hull-runtime-pyinit" forces the Python init for
# every config, so that both executors pass the same tests.
RUNTIMES = ["hull-runtime", "hull-runtime-pyinit", "runc"]
INIT_EXECUTORS = ["c", "pyinit"]


@pytest.fixture(scope="session")
def pyinit_runtime_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A hull-runtime that always uses the Python init (HULL_RUNTIME_INIT=python).

    A wrapper script rather than an environment variable of the test's own
    calls: podman and the tests' direct subprocess calls run it too.
    """
    path = tmp_path_factory.mktemp("pyinit") / "hull-runtime"
    path.write_text(f'#!/bin/sh\nHULL_RUNTIME_INIT=python exec {hull_runtime_path()} "$@"\n')
    path.chmod(0o755)
    path.parent.chmod(0o755)
    return str(path)


def hull_binary(executor: str, pyinit_path: str) -> str:
    """hull-runtime for an init executor of INIT_EXECUTORS."""
    return pyinit_path if executor == "pyinit" else hull_runtime_path()


@pytest.fixture(params=RUNTIMES)
def runtime(
    request: pytest.FixtureRequest, tmp_path: Path, pyinit_runtime_path: str
) -> Iterator[Runtime]:
    """hull-runtime (C and Python init) and, as a reference for the same assertions, runc."""
    if not is_root():
        pytest.skip("needs root and a real kernel")
    name = request.param
    if name == "runc":
        binary = shutil.which("runc")
    else:
        binary = hull_binary(name.removeprefix("hull-runtime-") or "c", pyinit_runtime_path)
    if binary is None:
        pytest.fail(f"{name} is not installed (apt-get install {name})")
    rt = Runtime(name.removesuffix("-pyinit"), binary, tmp_path / f"state-{name}")
    try:
        yield rt
    finally:
        rt.cleanup()


@pytest.fixture(params=INIT_EXECUTORS)
def hull_rt(
    request: pytest.FixtureRequest, tmp_path: Path, pyinit_runtime_path: str
) -> Iterator[Runtime]:
    """hull-runtime alone (with each init executor), for behaviour runc does not share."""
    if not is_root():
        pytest.skip("needs root and a real kernel")
    binary = hull_binary(request.param, pyinit_runtime_path)
    rt = Runtime("hull-runtime", binary, tmp_path / "state-hull")
    try:
        yield rt
    finally:
        rt.cleanup()


class Bundle:
    def __init__(self, path: Path, config: dict[str, Any]) -> None:
        self.path = path
        self.config = config

    def write(self) -> Bundle:
        (self.path / "config.json").write_text(json.dumps(self.config, indent=1))
        return self


@pytest.fixture
def make_bundle(tmp_path: Path, busybox_rootfs: Path) -> Any:
    """Factory: make_bundle(args, **config overrides) -> Bundle with config.json written."""
    n = 0

    def factory(args: list[str], edit: Any = None) -> Bundle:
        nonlocal n
        n += 1
        path = tmp_path / f"bundle{n}"
        path.mkdir()
        cfg = base_config(busybox_rootfs, args)
        if edit is not None:
            edit(cfg)
        return Bundle(path, cfg).write()

    return factory


def unique_id(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session", autouse=True)
def _sweep_network_leftovers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session: hull bridges and nft tables whose temp data root is gone.

    Every daemon a test starts makes its default bridge (named after its data
    root) on first use; the tests remove their data roots, and this removes
    what those left in the kernel. Other sessions' live daemons are untouched
    (their data roots still exist).
    """
    yield
    if is_root():
        from hull.network.naming import sweep_orphans

        # pytest keeps the temp dirs of the last sessions: theirs count as gone
        sweep_orphans(under=tmp_path_factory.getbasetemp())
