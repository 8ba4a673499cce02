import importlib

import pytest


@pytest.mark.parametrize(
    "package",
    [
        "hull.metadata",
        "hull.metadata.db",
        "hull.metadata.images",
        "hull.metadata.leases",
        "hull.metadata.containers",
        "hull.images.reference",
        "hull.oci.image_spec",
        "hull.oci.media_types",
    ],
)
def test_public_api_is_complete(package: str) -> None:
    mod = importlib.import_module(package)
    public = {n for n in vars(mod) if not n.startswith("_")}
    imported_modules = {n for n in public if type(getattr(mod, n)).__name__ == "module"}
    declared = set(mod.__all__)
    assert declared <= public
    for name in public - imported_modules - declared:
        obj = getattr(mod, name)
        assert not getattr(obj, "__module__", "").startswith(package), name


def test_package_reexports_every_submodule_name() -> None:
    pkg = importlib.import_module("hull.metadata")
    for sub in ("images", "leases", "containers"):
        mod = importlib.import_module(f"hull.metadata.{sub}")
        assert set(mod.__all__) <= set(pkg.__all__), sub
