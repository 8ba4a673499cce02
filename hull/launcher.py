"""Write fast launchers for hull's commands, and load their hot modules fast.

pip's console-script wrappers start Python with ``site`` (the editable
install's path hooks, every ``.pth`` file) and import ``re``: ~25 ms before
hull's first line. ``hull-runtime`` must start a container in ~15 ms in
all, so ``make`` replaces the wrappers with scripts that run the interpreter
isolated (``-I``: no environment, no user site; ``-S``: no site) and put
hull's own directory on ``sys.path``.

    python -m hull.launcher BIN_DIR

**Hot-module bundles.** Importing a module through the path finder costs
~65 µs beyond running its code (directory caches, stats, opening and
validating its ``.pyc``), and ``hull-runtime run`` imports ~20 of them. So
the launcher of a command listed in ``HOT`` serves those modules' code
objects from one marshalled file written next to the venv
(``share/hull/<command>.bundle``), through the importer of
:mod:`hull._boot`, whose own code heads the file: the launcher execs it
from there, so not even ``hull`` is looked for on ``sys.path``. An entry is
used only while its source file keeps the size and mtime recorded at
writing time; an edited (or missing) source is imported the usual way, so a
stale bundle is slower, never wrong. ``make`` (and ``bench/``) rewrite it.
"""

import marshal
import sys

from hull._boot import FORMAT as _FORMAT
from hull._boot import MAGIC as _MAGIC
from hull._boot import Bundle

__all__ = ["Bundle", "install", "script", "write_bundle"]

# command -> (module with main(), bare): a bare command needs nothing beyond
# the standard library and hull, so it runs without site (-S) on the fastest
# interpreter; the daemon needs the venv's packages (isal, zstandard...).
ENTRY_POINTS = {
    "hull-runtime": ("hull.runtime.main", True),
    "hull": ("hull.cli.main", True),
    "hulld": ("hull.api.daemon", False),
    "hull-registry": ("hull.registry.main", False),
}

# command -> the modules its hot path imports (what `run`/`create`/`start`
# load; seccomp's for configs that have a filter, as Docker's and podman's do)
HOT: dict[str, tuple[str, ...]] = {
    "hull-runtime": (
        "hull",
        "hull.errors",
        "hull.linux",
        "hull.linux.caps",
        "hull.linux.fastos",
        "hull.linux.syscall_table",
        "hull.oci",
        "hull.oci.fastjson",
        "hull.oci.runtime_spec",
        "hull.runtime",
        "hull.runtime.cgroups",
        "hull.runtime.cgroups.devices",
        "hull.runtime.cgroups.ebpf",
        "hull.runtime.cgroups.v1",
        "hull.runtime.cgroups.v2",
        "hull.runtime.container",
        "hull.runtime.control",
        "hull.runtime.devnodes",
        "hull.runtime.init",
        "hull.runtime.initdefs",
        "hull.runtime.initplan",
        "hull.runtime.main",
        "hull.runtime.process",
        "hull.runtime.rootfs",
        "hull.runtime.seccomp",
        "hull.runtime.seccomp_notify",
        "hull.runtime.spawn",
        "hull.runtime.state",
        "hull.runtime.sync",
        "hull.runtime.trace",
    ),
}

# command -> hot modules its interpreter finds outside hull's source tree
# (its standard library, C extensions, whose paths only that interpreter
# knows): located by asking it when the bundle is written. An extension is
# not bundled (it is a shared object); its entry spares the path finder's
# directory scans.
HOT_LOCATED: dict[str, tuple[str, ...]] = {
    "hull-runtime": ("__future__", "_json", "hull.linux._sys"),
}


def write_bundle(
    path: str, modules: tuple[str, ...], root: str, located: dict[str, str] | None = None
) -> int:
    """Compile ``modules`` into a bundle at ``path``; returns the count of entries.

    A module is looked for under ``root`` unless ``located`` gives its file
    (a ``.py`` is compiled in, anything else is an extension's shared object).
    """
    import os

    index: dict[str, tuple[str, int, int, bool, int, int]] = {}
    blobs: dict[str, bytes] = {}
    located = located or {}
    for name in (*modules, *located):
        if name in located:
            src = located[name]
            is_pkg = os.path.basename(src) == "__init__.py"
        else:
            base = os.path.join(root, *name.split("."))
            is_pkg = os.path.isdir(base)
            src = os.path.join(base, "__init__.py") if is_pkg else base + ".py"
        try:
            st = os.stat(src)
            if not src.endswith(".py"):
                index[name] = (src, st.st_mtime_ns, st.st_size, False, -1, 0)
                continue
            with open(src, "rb") as f:
                text = f.read()
        except OSError:
            continue
        blobs[name] = marshal.dumps(compile(text, src, "exec", dont_inherit=True))
        index[name] = (src, st.st_mtime_ns, st.st_size, is_pkg, 0, len(blobs[name]))
    # the importer's own code heads the file (see hull._boot)
    boot_src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_boot.py")
    with open(boot_src, "rb") as f:
        boot = marshal.dumps(compile(f.read(), boot_src, "exec", dont_inherit=True))
    prefix = _MAGIC + len(boot).to_bytes(4, "little") + boot
    # offsets depend on the index's own length: size it with zeros first
    n = len(marshal.dumps((_FORMAT, index)))
    while True:
        off = len(prefix) + 4 + n
        for name, blob in blobs.items():
            e = index[name]
            index[name] = (e[0], e[1], e[2], e[3], off, len(blob))
            off += len(blob)
        head = marshal.dumps((_FORMAT, index))
        if len(head) == n:
            break
        n = len(head)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(prefix + len(head).to_bytes(4, "little") + head + b"".join(blobs.values()))
    os.replace(tmp, path)
    return len(index)


_LOCATE = """
import sys, importlib.util
sys.path.insert(0, sys.argv[1])
for name in sys.argv[2:]:
    try:
        spec = importlib.util.find_spec(name)
    except ImportError:
        continue
    if spec is not None and spec.has_location and spec.origin:
        print(name, spec.origin, sep="\t")
"""


def locate(python: str, names: tuple[str, ...], root: str) -> dict[str, str]:
    """Where ``python`` (isolated, no site) finds ``names``; {} if it cannot say."""
    import subprocess

    try:
        out = subprocess.run(
            [python, "-I", "-S", "-c", _LOCATE, root, *names],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    found = {}
    for line in out.splitlines():
        name, _, origin = line.partition("\t")
        if name in names and origin.startswith("/"):
            found[name] = origin
    return found


def script(module: str, python: str, path: str, *, bare: bool = True, bundle: str = "") -> str:
    """The text of one launcher.

    It ends with ``posix._exit`` after flushing: interpreter finalisation
    (module teardown, GC) costs ~0.5 ms that a short-lived command does not
    need. ``posix``, not ``os``: it is built in and already loaded.
    """
    flags = "-IS" if bare else "-I"
    # the bundle's head is the importer's code (hull._boot): run it from
    # the file, with the file open, before anything is imported
    hot = (
        "try:\n"
        "    import marshal\n"
        f"    f = posix.open({bundle!r}, posix.O_RDONLY | posix.O_CLOEXEC)\n"
        "    h = posix.pread(f, 8, 0)\n"
        "    if h[:4] != sys.modules['_frozen_importlib_external'].MAGIC_NUMBER:\n"
        "        raise ValueError\n"
        "    c = marshal.loads(posix.pread(f, int.from_bytes(h[4:], 'little'), 8))\n"
        "    exec(c, {'__name__': 'hull._boot', 'BUNDLE_FD': f})\n"
        "except (OSError, ValueError, EOFError, TypeError):\n"
        "    pass\n"
        if bundle
        else ""
    )
    return (
        f"#!{python} {flags}\n"
        "import posix, sys\n"
        f"sys.path.insert(0, {path!r})\n"
        f"{hot}"
        f"from {module} import main\n"
        "code = main()\n"
        "sys.stdout.flush()\n"
        "sys.stderr.flush()\n"
        "posix._exit(code or 0)\n"
    )


def fastest_python(default: str) -> str:
    """The interpreter for the launchers: the distribution's build of the same version if any.

    Debian's CPython is built with PGO and LTO and links libpython statically:
    it starts ~3 ms faster than a pyenv build with a shared libpython, on a
    start budget of ~20 ms. hull's hot paths use only the standard library
    and hull itself (and the C extension, whose ABI is that of the same
    minor version), so any CPython of the same version runs them.
    """
    import os

    v = sys.version_info
    cand = f"/usr/bin/python{v.major}.{v.minor}"
    if os.access(cand, os.X_OK) and os.path.realpath(cand) != os.path.realpath(default):
        return cand
    return default


def install(bin_dir: str) -> list[str]:
    """Write every launcher (and its hot-module bundle) into ``bin_dir``; returns their paths."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bin_dir = os.path.abspath(bin_dir)
    venv_python = os.path.join(bin_dir, "python3")
    if not os.path.exists(venv_python):
        venv_python = sys.executable
    fast = fastest_python(venv_python)
    out = []
    for name, (module, bare) in ENTRY_POINTS.items():
        bundle = ""
        if name in HOT:
            bundle = os.path.join(os.path.dirname(bin_dir), "share", "hull", f"{name}.bundle")
            python = fast if bare else venv_python
            found = locate(python, HOT_LOCATED.get(name, ()), root)
            write_bundle(bundle, HOT[name], root, found)
        dest = os.path.join(bin_dir, name)
        tmp = dest + ".tmp"
        with open(tmp, "w") as f:
            f.write(script(module, fast if bare else venv_python, root, bare=bare, bundle=bundle))
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
        out.append(dest)
    return out


if __name__ == "__main__":
    import os

    for p in install(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(sys.executable)):
        print(p)
