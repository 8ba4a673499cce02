"""Which runtime verbs the monitor runs itself, forks, or leaves to the program."""

from __future__ import annotations

import json
from pathlib import Path

from hull.engine.monitor import inproc


def test_only_a_plain_start_runs_inline(tmp_path: Path) -> None:
    assert inproc.inline_start(["rt", "--root", str(tmp_path), "kill", "c1"]) is None
    assert inproc.inline_start(["rt", "--root", str(tmp_path), "--log", "x", "start"]) is None
    # no state: the runtime program reports it in its own words
    assert inproc.inline_start(["rt", "--root", str(tmp_path), "start", "c1"]) is None
    # poststart hooks run arbitrary programs: never in the monitor's loop
    (tmp_path / "c2").mkdir()
    state = {
        "id": "c2",
        "pid": 1,
        "bundle": "/",
        "config": {"hooks": {"poststart": [{"path": "/x"}]}},
    }
    (tmp_path / "c2" / "state.json").write_text(json.dumps(state))
    assert inproc.inline_start(["rt", "--root", str(tmp_path), "start", "c2"]) is None


def test_our_launcher_is_recognised(tmp_path: Path) -> None:
    ours = tmp_path / "hull-runtime"
    ours.write_text("#!/usr/bin/python3.11 -IS\nfrom hull.runtime.main import main\n")
    other = tmp_path / "runc"
    other.write_bytes(b"\x7fELF...")
    assert inproc.is_hull_runtime(str(ours)) and not inproc.is_hull_runtime(str(other))


def test_the_launcher_make_writes_is_recognised(tmp_path: Path) -> None:
    """The real launcher text (its bundle's boot code first) still names hull's runtime."""
    from hull import launcher

    root = str(Path(launcher.__file__).resolve().parent.parent)
    bundle = "/a/rather/long/path/to/a/virtualenv/share/hull/hull-runtime.bundle"
    text = launcher.script("hull.runtime.main", "/usr/bin/python3.11", root, bundle=bundle)
    exe = tmp_path / "hull-runtime"
    exe.write_text(text)
    assert inproc.is_hull_runtime(str(exe))
