"""The launchers' hot-module bundle: used while sources are unchanged, bypassed after."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hull import launcher

PROBE = """
import sys
sys.path.insert(0, {root!r})
from hull.launcher import Bundle
Bundle.install({bundle!r})
import pkg.mod
print(type(pkg.mod.__spec__.loader).__name__, pkg.mod.VALUE, pkg.mod.__file__)
import pkg.other  # in the package, not in the bundle: found through pkg.__path__
print(pkg.other.VALUE)
"""


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("VALUE = 1\n")
    (root / "pkg" / "other.py").write_text("VALUE = 'other'\n")
    return root


def _probe(root: Path, bundle: Path) -> list[str]:
    hull_root = str(Path(launcher.__file__).resolve().parent.parent)
    code = f"import sys; sys.path.insert(0, {hull_root!r})\n" + PROBE.format(
        root=str(root), bundle=str(bundle)
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], check=True, capture_output=True, text=True
    )
    return out.stdout.split("\n")


def test_bundle_serves_unchanged_modules(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    bundle = tmp_path / "share" / "x.bundle"
    assert launcher.write_bundle(str(bundle), ("pkg", "pkg.mod", "pkg.absent"), str(root)) == 2
    lines = _probe(root, bundle)
    assert lines[0] == f"Bundle 1 {root / 'pkg' / 'mod.py'}"
    assert lines[1] == "other"


def test_edited_source_is_imported_from_disk(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    bundle = tmp_path / "x.bundle"
    launcher.write_bundle(str(bundle), ("pkg", "pkg.mod"), str(root))
    mod = root / "pkg" / "mod.py"
    mod.write_text("VALUE = 22\n")
    st = mod.stat()
    os.utime(mod, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert _probe(root, bundle)[0].split()[:2] == ["SourceFileLoader", "22"]


def test_unusable_bundle_is_ignored(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    bundle = tmp_path / "x.bundle"
    bundle.write_bytes(b"\x10\x00\x00\x00garbage")
    assert _probe(root, bundle)[0].split()[:2] == ["SourceFileLoader", "1"]
    assert _probe(root, tmp_path / "missing.bundle")[0].split()[:2] == ["SourceFileLoader", "1"]


def test_launcher_script_installs_the_bundle() -> None:
    text = launcher.script("hull.runtime.main", "/usr/bin/python3", "/src", bundle="/b/x.bundle")
    assert text.startswith("#!/usr/bin/python3 -IS\n")
    assert "posix.open('/b/x.bundle'" in text
    # nothing is imported through the path finder before the bundle is in place
    assert "import os" not in text
    assert "hull.launcher" not in text
    assert "/b/x.bundle" not in launcher.script("hull.cli.main", "/usr/bin/python3", "/src")


def test_launcher_runs_its_bundles_head_and_serves_the_package(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    (root / "pkg" / "mod.py").write_text(
        "import sys\n"
        "def main():\n"
        "    import pkg\n"
        "    loaders = {type(m.__spec__.loader).__name__ for m in (pkg, sys.modules[__name__])}\n"
        "    print(*sorted(loaders), 'hull.launcher' in sys.modules, 'hull' in sys.modules)\n"
        "    return 3\n"
    )
    bundle = tmp_path / "share" / "x.bundle"
    launcher.write_bundle(str(bundle), ("pkg", "pkg.mod"), str(root))
    exe = tmp_path / "x"
    exe.write_text(launcher.script("pkg.mod", sys.executable, str(root), bundle=str(bundle)))
    exe.chmod(0o755)
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 3, out.stderr
    # the importer came from the bundle file itself: no hull module was imported
    assert out.stdout.split() == ["Bundle", "False", "False"]
    # a bundle from another Python (other bytecode magic) is ignored, not run
    data = bundle.read_bytes()
    bundle.write_bytes(b"\x00\x00\x00\x00" + data[4:])
    out = subprocess.run([str(exe)], capture_output=True, text=True)
    assert out.returncode == 3, out.stderr
    assert out.stdout.split() == ["SourceFileLoader", "False", "False"]


def test_located_modules_and_extensions(tmp_path: Path) -> None:
    import importlib.util

    root = _tree(tmp_path)
    names = ("_json", "__future__")
    found = launcher.locate(sys.executable, names, str(root))
    assert found["__future__"].endswith("__future__.py")
    spec = importlib.util.find_spec("_json")
    assert spec is not None
    if spec.origin in (None, "built-in"):
        found.pop("_json", None)  # a build with _json built in: nothing to locate
    bundle = tmp_path / "x.bundle"
    launcher.write_bundle(str(bundle), ("pkg", "pkg.mod"), str(root), found)
    hull_root = str(Path(launcher.__file__).resolve().parent.parent)
    code = (
        f"import sys; sys.path.insert(0, {hull_root!r})\n"
        "from hull.launcher import Bundle\n"
        f"Bundle.install({str(bundle)!r})\n"
        "import __future__, _json\n"
        "print(type(__future__.__spec__.loader).__name__, type(_json.__spec__.loader).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert out[0] == "Bundle"
    if "_json" in found:
        assert out[1] == "ExtensionFileLoader"
