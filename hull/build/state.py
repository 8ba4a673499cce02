"""What the builder and its steps share: a stage's state, a planned step, the build's services.

A stage starts from its base (an image, ``scratch`` or an earlier stage) and
each instruction is *planned* (``steps.plan``) into a ``Step``: its cache-key
inputs, the change it makes to the image configuration (``apply``, run on a
hit and on a miss alike) and, for steps that write files, the work to do on
the mounted snapshot (``fs``, run only on a miss).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hull.build.context import Context
    from hull.build.expand import ArgScope
    from hull.build.runner import RunRequest
    from hull.images.service import LayerBlob
    from hull.oci.digest import Digest
    from hull.oci.image_config import ContainerConfig, History

__all__ = ["BuildServices", "FsContext", "StageState", "Step", "env_map"]


@dataclass
class StageState:
    """One stage as its instructions change it."""

    index: int
    name: str | None
    config: ContainerConfig
    architecture: str
    os: str
    variant: str = ""
    author: str = ""
    layers: list[LayerBlob] = field(default_factory=list)
    chain: Digest | None = None
    history: list[History] = field(default_factory=list)
    key: str = ""
    scope: ArgScope | None = None
    cmd_set: bool = False  # CMD given in this stage: ENTRYPOINT keeps it
    base_id: str = ""

    @property
    def env(self) -> dict[str, str]:
        """The stage's ENV as a dict (in order)."""
        return env_map(self.config.env or ())

    @property
    def args(self) -> ArgScope:
        """The stage's ARG scope."""
        assert self.scope is not None
        return self.scope


def env_map(env: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["K=V", …]`` as a dict; later entries win."""
    out: dict[str, str] = {}
    for item in env:
        k, _, v = item.partition("=")
        out[k] = v
    return out


@dataclass
class FsContext:
    """What a step's filesystem work gets: the mounted rootfs and its bundle dir."""

    rootfs: Path
    bundle: Path
    step_id: str


@dataclass
class Step:
    """One planned instruction (see the module doc)."""

    kind: str  # "meta" (config only) or "layer" (writes files)
    text: str  # the instruction after expansion, as shown and recorded in history
    inputs: dict[str, Any]
    apply: Callable[[StageState], None] | None = None
    fs: Callable[[FsContext], None] | None = None
    history: bool = True  # ARG adds no history entry


class BuildServices(Protocol):
    """The builder's services a step may call."""

    context: Context | None
    secrets: Mapping[str, bytes]
    escape: str

    def source_of(self, ref: str) -> tuple[str, Digest | None]:
        """COPY --from / mount from: (``stage:N``/image ID, its layer chain)."""
        ...

    def view(self, chain: Digest | None) -> contextlib.AbstractContextManager[Path]:
        """A read-only mount of a layer chain (an empty dir for None)."""
        ...

    def run(self, fs: FsContext, req: RunRequest) -> None:
        """Run a RUN container on the mounted rootfs; raises RunFailed on non-zero exit."""
        ...

    def cache_dir(self, mount_id: str) -> Path:
        """The persistent host dir of a ``--mount=type=cache`` id."""
        ...
