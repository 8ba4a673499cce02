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

ENTRY_POINTS = {
    "hull-runtime": "hull.runtime.main",
}


def script(module: str, python: str, path: str) -> str:
    """The text of one launcher."""
    return (
        f"#!{python} -IS\n"
        "import sys\n"
        f"sys.path.insert(0, {path!r})\n"
        f"from {module} import main\n"
        "sys.exit(main())\n"
    )


def install(bin_dir: str) -> list[str]:
    """Write every launcher into ``bin_dir``; returns their paths."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bin_dir = os.path.abspath(bin_dir)
    python = os.path.join(bin_dir, "python3")
    if not os.path.exists(python):
        python = sys.executable
    out = []
    for name, module in ENTRY_POINTS.items():
        dest = os.path.join(bin_dir, name)
        tmp = dest + ".tmp"
        with open(tmp, "w") as f:
            f.write(script(module, python, root))
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
        out.append(dest)
    return out


if __name__ == "__main__":
    for p in install(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(sys.executable)):
        print(p)
