"""Write fast launchers for hull's commands.

pip's console-script wrappers start Python with ``site`` (the editable
install's path hooks, every ``.pth`` file) and import ``re``: ~25 ms before
hull's first line. ``hull-runtime`` must start a container in ~20 ms in
all, so ``make`` replaces the wrappers with scripts that run the interpreter
isolated (``-I``: no environment, no user site; ``-S``: no site) and put
hull's own directory on ``sys.path``.

    python -m hull.launcher BIN_DIR
"""

from __future__ import annotations

import os
import sys

# command -> (module with main(), bare): a bare command needs nothing beyond
# the standard library and hull, so it runs without site (-S) on the fastest
# interpreter; the daemon needs the venv's packages (isal, zstandard...).
ENTRY_POINTS = {
    "hull-runtime": ("hull.runtime.main", True),
    "hull": ("hull.cli.main", True),
    "hulld": ("hull.api.daemon", False),
    "hull-registry": ("hull.registry.main", False),
}


def script(module: str, python: str, path: str, *, bare: bool = True) -> str:
    """The text of one launcher.

    It ends with ``os._exit`` after flushing: interpreter finalisation (module
    teardown, GC) costs ~0.5 ms that a short-lived command does not need.
    """
    flags = "-IS" if bare else "-I"
    return (
        f"#!{python} {flags}\n"
        "import os, sys\n"
        f"sys.path.insert(0, {path!r})\n"
        f"from {module} import main\n"
        "code = main()\n"
        "sys.stdout.flush()\n"
        "sys.stderr.flush()\n"
        "os._exit(code or 0)\n"
    )


def fastest_python(default: str) -> str:
    """The interpreter for the launchers: the distribution's build of the same version if any.

    Debian's CPython is built with PGO and LTO and links libpython statically:
    it starts ~3 ms faster than a pyenv build with a shared libpython, on a
    start budget of ~20 ms. hull's hot paths use only the standard library
    and hull itself (and the C extension, whose ABI is that of the same
    minor version), so any CPython of the same version runs them.
    """
    v = sys.version_info
    cand = f"/usr/bin/python{v.major}.{v.minor}"
    if os.access(cand, os.X_OK) and os.path.realpath(cand) != os.path.realpath(default):
        return cand
    return default


def install(bin_dir: str) -> list[str]:
    """Write every launcher into ``bin_dir``; returns their paths."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bin_dir = os.path.abspath(bin_dir)
    venv_python = os.path.join(bin_dir, "python3")
    if not os.path.exists(venv_python):
        venv_python = sys.executable
    fast = fastest_python(venv_python)
    out = []
    for name, (module, bare) in ENTRY_POINTS.items():
        dest = os.path.join(bin_dir, name)
        tmp = dest + ".tmp"
        with open(tmp, "w") as f:
            f.write(script(module, fast if bare else venv_python, root, bare=bare))
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
        out.append(dest)
    return out


if __name__ == "__main__":
    for p in install(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(sys.executable)):
        print(p)
