"""The hot-module bundle's importer; its code also heads the bundle file itself.

A launcher (see :mod:`hull.launcher`) must not import anything through the
path finder before the bundle is installed: finding ``hull`` and one module
of it on ``sys.path`` costs ~0.5 ms of directory scans, stats and ``.pyc``
reads, on a start budget of ~15 ms. So the bundle file starts with this
module's marshalled code, which the launcher execs straight from the file
with ``BUNDLE_FD`` set; the code then installs the importer from the same
open file. Imported the usual way (tests, the bundle writer), it only
defines :class:`Bundle`.

Layout of a bundle file (all integers 4-byte little-endian):

    bytecode magic | boot length | boot code (this module, marshalled)
    | index length | index | each module's marshalled code

The index is ``(format, {module: (source path, mtime_ns, size, is_package,
offset, length)})``; offset -1 marks a C extension, loaded from its path.

Only built-in modules here: this runs before any import machinery is warm.
"""

# No `from __future__ import annotations`: __future__ would be a module to
# find before the importer exists; annotations naming typing-only types are
# strings.
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

FORMAT = 4  # bump when the layout changes
_HEAD = 8192  # one read gets the index of any bundle of a few dozen modules

_external = sys.modules["_frozen_importlib_external"]
_ModuleSpec: "type[ModuleSpec]" = sys.modules["_frozen_importlib"].ModuleSpec
_ExtensionFileLoader: "type[ExtensionFileLoader]" = _external.ExtensionFileLoader
MAGIC: bytes = _external.MAGIC_NUMBER


class Bundle(_Loader):
    """A meta-path importer serving code objects from one file.

    Only the index is read at start; a module's code is read (``pread``)
    when it is imported: touching memory is not free (a page fault costs
    ~3 µs here), and a command imports a part of its hot set. An entry is
    used only while its source keeps the size and mtime recorded at writing
    time: an edited source is imported the usual way (slower, never wrong).
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
        if not cls.install_fd(fd):
            posix.close(fd)

    @classmethod
    def install_fd(cls, fd: int) -> bool:
        """Install the bundle open at ``fd``; False if it is unusable."""
        try:
            head = posix.pread(fd, 8, 0)
            if len(head) != 8 or head[:4] != MAGIC:
                return False
            at = 8 + int.from_bytes(head[4:8], "little")
            head = posix.pread(fd, _HEAD, at)
            n = int.from_bytes(head[:4], "little")
            if 4 + n > len(head):
                head += posix.pread(fd, 4 + n - len(head), at + len(head))
            fmt, index = marshal.loads(head[4 : 4 + n])
        except (OSError, ValueError, EOFError, TypeError):
            return False
        if fmt != FORMAT:
            return False
        sys.meta_path.insert(0, cls(fd, index))
        return True

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


# Run from the head of a bundle by a launcher, which opened the file.
_fd = globals().get("BUNDLE_FD")
if isinstance(_fd, int) and not Bundle.install_fd(_fd):
    posix.close(_fd)
