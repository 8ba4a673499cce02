"""The distribution package declares its public API, and the CLI renders Docker's way."""

import importlib
import io

import pytest

from hull.cli.commands.pull import StreamError, render
from hull.distribution import message


@pytest.mark.parametrize(
    "package",
    [
        "hull.distribution",
        "hull.distribution.credentials",
        "hull.distribution.manifests",
        "hull.distribution.pull",
        "hull.distribution.push",
        "hull.distribution.search",
        "hull.distribution.spool",
        "hull.distribution.settings",
        "hull.distribution.transport",
    ],
)
def test_public_api_is_complete(package: str) -> None:
    mod = importlib.import_module(package)
    for name in mod.__all__:  # a lazy package imports each name on first use
        getattr(mod, name)
    public = {n for n in vars(mod) if not n.startswith("_")}
    imported_modules = {n for n in public if type(getattr(mod, n)).__name__ == "module"}
    declared = set(mod.__all__)
    assert declared <= public
    for name in public - imported_modules - declared:
        obj = getattr(mod, name)
        assert not getattr(obj, "__module__", "").startswith(package), name


def test_render_plain_and_terminal() -> None:
    msgs = [
        message("Pulling from library/busybox", "latest"),
        message("Pulling fs layer", "aaa"),
        message("Downloading", "aaa", 5, 10),
        message("Pull complete", "aaa"),
        message("Digest: sha256:x"),
    ]
    out = io.StringIO()
    render(msgs, out, tty=False)
    assert out.getvalue() == (
        "latest: Pulling from library/busybox\naaa: Pulling fs layer\naaa: Pull complete\n"
        "Digest: sha256:x\n"
    )
    out = io.StringIO()
    render(msgs, out, tty=True)
    assert "\x1b[1A\x1b[2K\raaa: Downloading [" in out.getvalue()
    with pytest.raises(StreamError, match="boom"):
        render([{"errorDetail": {"message": "boom"}, "error": "boom"}], io.StringIO(), False)


def test_cli_pull_imports_neither_package_whole() -> None:
    """`hull pull` parses the name and reads credentials without the HTTP client or the store."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from hull.images import parse_reference\n"
        "from hull.distribution import load_credentials\n"
        "parse_reference('localhost:5000/busybox')\n"
        "heavy = [m for m in ('http.client', 'hull.images.service', 'hull.distribution.pull',"
        " 'hull.metadata') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
