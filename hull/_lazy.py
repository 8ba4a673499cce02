"""Lazy exports for a package ``__init__`` (PEP 562 ``__getattr__``).

A package that re-exports its submodules' names would import all of them
with itself; the CLI, which needs one name, then paid for the whole package
(``hull pull`` waited ~85 ms for ``hull.images`` and ``hull.distribution``).
Instead the package lists where each name lives and imports that module the
first time the name is asked for::

    __getattr__ = lazy_exports(__name__, {"Name": "submodule"}, globals())

A module given with a dot is absolute (``"hull.metadata"``), else it is a
submodule of the package. Names a package's own submodules share (``pull``
is both ``hull.distribution.pull`` and a function) must not be listed: the
import system binds the submodule to that attribute. The package keeps its
names visible to mypy with imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def lazy_exports(
    package: str, where: dict[str, str], namespace: dict[str, object]
) -> Callable[[str], object]:
    """A module ``__getattr__`` that imports ``where[name]`` on first use and caches the name."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if "." not in module:
            module = f"{package}.{module}"
        value = getattr(__import__(module, fromlist=[name]), name)
        namespace[name] = value
        return value

    return __getattr__
