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
the launcher of a command listed in ``HOT`` first installs :class:`Bundle`,
an importer that serves those modules' code objects from one marshalled
file written next to the venv (``share/hull/<command>.bundle``). An entry is
used only while its source file keeps the size and mtime recorded at
writing time; an edited (or missing) source is imported the usual way, so a
stale bundle is slower, never wrong. ``make`` (and ``bench/``) rewrite it.

This module is imported by every launcher before anything else: at module
level it imports only built-in modules (``os`` alone costs ~0.8 ms).
"""

# No `from __future__ import annotations` here: this module is imported
# before the bundle exists, and __future__ is a module to load like any other
# (~0.1 ms); the annotations below that name typing-only types are strings.
import marshal
import posix
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.abc import Loader as _Loader
    from importlib.machinery import ExtensionFileLoader, ModuleSpec
    from types import CodeType, ModuleType
else:
    _Loader = object  # importlib.abc is an import more at start

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
        "hull.runtime.cgroups.v1",
        "hull.runtime.cgroups.v2",
        "hull.runtime.container",
        "hull.runtime.control",
        "hull.runtime.init",
        "hull.runtime.main",
        "hull.runtime.process",
        "hull.runtime.rootfs",
        "hull.runtime.seccomp",
        "hull.runtime.seccomp_notify",
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

_FORMAT = 3  # bump when the bundle's layout changes
_HEAD = 8192  # one read gets the index of any bundle of a few dozen modules


class Bundle(_Loader):
    """A meta-path importer serving code objects from one file.

    The file is a 4-byte little-endian length, then the marshalled index
    ``(format, bytecode magic, {module: (source path, mtime_ns, size,
    is_package, offset, length)})``, then each module's marshalled code at
    its offset; offset -1 marks a C extension, loaded from its path. Only
    the index is read at start; a module's code is read (``pread``) when it
    is imported: touching memory is not free (a page fault costs ~2 µs
    here), and a command imports a part of its hot set.
    """

    def __init__(self, fd: int, index: dict[str, tuple[str, int, int, bool, int, int]]) -> None:
        self._fd = fd
        self._index = index

    @classmethod
    def install(cls, path: str) -> None:
        """Put the bundle at ``path`` first on ``sys.meta_path``; nothing if it is unusable."""
        try:
            # close-on-exec: nothing of the runtime may reach a container
            fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
        except OSError:
            return
        try:
            head = posix.read(fd, _HEAD)
            n = int.from_bytes(head[:4], "little")
            if 4 + n > len(head):
                head += posix.pread(fd, 4 + n - len(head), len(head))
            fmt, magic, index = marshal.loads(head[4 : 4 + n])
        except (OSError, ValueError, EOFError, TypeError):
            posix.close(fd)
            return
        if fmt != _FORMAT or magic != _magic():
            posix.close(fd)
            return
        sys.meta_path.insert(0, cls(fd, index))

    def find_spec(
        self, name: str, path: object = None, target: object = None
    ) -> "ModuleSpec | None":
        """A spec for a bundled module whose source has not changed; else None."""
        e = self._index.get(name)
        if e is None:
            return None
        origin, mtime_ns, size, is_pkg = e[0], e[1], e[2], e[3]
        try:
            st = posix.stat(origin)
        except OSError:
            return None
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return None
        if e[4] < 0:
            ext = _ModuleSpec(name, _ExtensionFileLoader(name, origin), origin=origin)
            ext.has_location = True
            return ext
        spec = _ModuleSpec(name, self, origin=origin, is_package=is_pkg)
        spec.has_location = True  # sets __file__
        if is_pkg:
            spec.submodule_search_locations = [origin.rpartition("/")[0]]
        return spec

    def create_module(self, spec: "ModuleSpec") -> None:
        """The default module object."""
        return None

    def exec_module(self, module: "ModuleType") -> None:
        """Run the module's code."""
        e = self._index[module.__name__]
        data = posix.pread(self._fd, e[5], e[4])
        if len(data) != e[5]:
            raise ImportError(
                f"truncated hot-module bundle: {module.__name__}", name=module.__name__
            )
        code: CodeType = marshal.loads(data)
        exec(code, module.__dict__)


_ModuleSpec: "type[ModuleSpec]" = sys.modules["_frozen_importlib"].ModuleSpec
_ExtensionFileLoader: "type[ExtensionFileLoader]" = sys.modules[
    "_frozen_importlib_external"
].ExtensionFileLoader


def _magic() -> bytes:
    return sys.modules["_frozen_importlib_external"].MAGIC_NUMBER  # type: ignore[no-any-return]


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
    # offsets depend on the index's own length: size it with zeros first
    n = len(marshal.dumps((_FORMAT, _magic(), index)))
    while True:
        off = 4 + n
        for name, blob in blobs.items():
            e = index[name]
            index[name] = (e[0], e[1], e[2], e[3], off, len(blob))
            off += len(blob)
        head = marshal.dumps((_FORMAT, _magic(), index))
        if len(head) == n:
            break
        n = len(head)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(len(head).to_bytes(4, "little") + head + b"".join(blobs.values()))
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
    hot = f"from hull.launcher import Bundle\nBundle.install({bundle!r})\n" if bundle else ""
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
