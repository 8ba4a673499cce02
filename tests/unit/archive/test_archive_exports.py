import importlib

import pytest


@pytest.mark.parametrize("package", ["hull.archive", "hull.content", "hull.oci.digest"])
def test_public_api_is_complete(package: str) -> None:
    mod = importlib.import_module(package)
    public = {n for n in vars(mod) if not n.startswith("_")}
    imported_modules = {n for n in public if type(getattr(mod, n)).__name__ == "module"}
    declared = set(mod.__all__)
    assert declared <= public
    # everything public that is defined in (or re-exported by) the package is declared
    for name in public - imported_modules - declared:
        obj = getattr(mod, name)
        assert not getattr(obj, "__module__", "").startswith(package), name
