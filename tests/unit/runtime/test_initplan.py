"""The plan of the C init: its opcode table is initexec.c's, and its gate."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from hull import linux
from hull.oci.runtime_spec import Spec
from hull.runtime import initplan
from hull.runtime.container import CreateOptions
from hull.runtime.defaults import default_spec
from hull.runtime.spawn import c_init_wanted

C_SOURCE = Path(__file__).resolve().parents[3] / "hull" / "linux" / "initexec.c"


def test_opcodes_are_initexecs() -> None:
    enum = re.search(r"enum \{\n(.*?)\n\};", C_SOURCE.read_text(), re.S)
    assert enum is not None
    c_ops = dict(re.findall(r"(OP_\w+) = (\d+),", enum.group(1)))
    py_ops = {k: str(v) for k, v in vars(initplan).items() if k.startswith("OP_")}
    assert py_ops == {k: v for k, v in c_ops.items() if k != "OP_END"}


def _spec(edit: Any = None) -> Spec:
    raw = default_spec(["true"], terminal=False)
    raw["root"] = {"path": "/tmp"}
    if edit is not None:
        edit(raw)
    return Spec(copy.deepcopy(raw))


def _opts(**kw: Any) -> CreateOptions:
    o = CreateOptions("/run/x", "id", "/tmp")
    for k, v in kw.items():
        setattr(o, k, v)
    return o


@pytest.mark.skipif(not linux.init_probe(), reason="no C init on this build or kernel")
def test_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    assert c_init_wanted(_spec(), _opts())
    monkeypatch.setenv("HULL_RUNTIME_INIT", "python")
    assert not c_init_wanted(_spec(), _opts())
    monkeypatch.delenv("HULL_RUNTIME_INIT")

    def ns(kind: str, path: str = "") -> Any:
        def edit(r: dict[str, Any]) -> None:
            nss = [n for n in r["linux"]["namespaces"] if n["type"] != kind]
            r["linux"]["namespaces"] = [*nss, {"type": kind, "path": path}]

        return edit

    def no_mount_ns(r: dict[str, Any]) -> None:
        r["linux"]["namespaces"] = [n for n in r["linux"]["namespaces"] if n["type"] != "mount"]

    refused = [
        ns("user"),
        ns("time"),
        ns("network", "/proc/1/ns/net"),
        no_mount_ns,
        lambda r: r["process"].update(terminal=True),
        lambda r: r["linux"].update(rootfsPropagation="slave"),
        lambda r: r.update(hooks={"createContainer": [{"path": "/bin/true"}]}),
        lambda r: r.update(hooks={"prestart": [{"path": "/bin/true"}]}),
        lambda r: r["linux"].update(
            seccomp={"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}
        ),
    ]
    for edit in refused:
        assert not c_init_wanted(_spec(edit), _opts())
    assert not c_init_wanted(_spec(), _opts(no_pivot=True))
    assert not c_init_wanted(_spec(), _opts(console_socket="/x.sock"))
    # hooks that run in the runtime itself are fine
    hooks = {"poststart": [{"path": "/bin/true"}], "poststop": [{"path": "/bin/true"}]}
    assert c_init_wanted(_spec(lambda r: r.update(hooks=hooks)), _opts())
    assert c_init_wanted(_spec(lambda r: r["linux"].update(rootfsPropagation="rshared")), _opts())


@pytest.mark.skipif(not linux.init_probe(), reason="no C init on this build or kernel")
def test_strings_the_c_side_cannot_carry_are_refused() -> None:
    """init_spawn checks the whole plan before it maps or clones anything."""
    for bad in ("a\0b", "\udcff", "x" * (1 << 16 + 1)):
        with pytest.raises(ValueError):
            linux.init_spawn(0, [(initplan.OP_MARK, bad)])
    with pytest.raises(TypeError):
        linux.init_spawn(0, [(initplan.OP_MARK, 1.5)])
    with pytest.raises(ValueError):
        linux.init_spawn(linux.CLONE_NEWUSER, [])  # only the namespaces it supports
