"""Multi-stage builds: which stages a target needs, in which order.

A stage depends on another when its FROM names it, or a ``COPY --from`` or a
``RUN --mount=…,from=`` does (by ``AS`` name or by index). Only the stages
the target reaches are built (BuildKit's rule; Docker's classic builder
builds them all), each after the ones it depends on (depth first). A
name that is no stage is an image. A cycle, or a stage naming itself, is an
error naming the line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hull.build.expand import expand_word
from hull.build.instructions import CopyInstr, RunInstr, RunMount, Stage
from hull.build.parser import DockerfileError
from hull.errors import InvalidArgument, NotFound

__all__ = ["base_name", "needed_stages", "stage_ref", "target_index"]


def stage_ref(stages: Sequence[Stage], ref: str, before: int | None = None) -> int | None:
    """The index of the stage ``ref`` names (``AS`` name, or a number), or None (an image)."""
    low = ref.lower()
    limit = len(stages) if before is None else before
    for st in stages[:limit]:
        if st.name == low:
            return st.index
    if ref.isdigit():
        n = int(ref)
        if n < limit:
            return n
        raise InvalidArgument(f"invalid stage index {n}: the stage must come earlier")
    return None


def target_index(stages: Sequence[Stage], target: str | None) -> int:
    """The stage to build: ``--target`` by name, else the last one."""
    if not stages:
        raise InvalidArgument("the Dockerfile has no FROM: nothing to build")
    if not target:
        return len(stages) - 1
    for st in stages:
        if st.name == target.lower():
            return st.index
    raise NotFound(f"failed to reach build target {target} in Dockerfile")


def base_name(stage: Stage, global_env: Mapping[str, str], escape: str = "\\") -> str:
    """The FROM image or stage name, expanded with the global ARGs."""
    name = expand_word(stage.base, global_env, escape)
    if not name:
        raise DockerfileError(
            "base name (" + stage.base + ") should not be blank", stage.from_.line
        )
    return name


def _refs(stage: Stage, global_env: Mapping[str, str], escape: str) -> list[tuple[str, int]]:
    """(reference, line) of every other stage or image this stage reads."""
    out = [(base_name(stage, global_env, escape), stage.from_.line)]
    for ins in stage.instructions:
        if isinstance(ins, CopyInstr) and ins.from_:
            out.append((expand_word(ins.from_, global_env, escape), ins.line))
        elif isinstance(ins, RunInstr):
            for spec in ins.mount_specs:
                m = RunMount.parse(spec, lambda v: expand_word(v, global_env, escape))
                if m.from_ and m.type in ("bind", "cache"):
                    out.append((m.from_, ins.line))
    return out


def needed_stages(
    stages: Sequence[Stage], target: int, global_env: Mapping[str, str], escape: str = "\\"
) -> list[int]:
    """The indexes of the stages ``target`` needs (itself last), in build order."""
    order: list[int] = []
    state: dict[int, str] = {}

    def visit(i: int, line: int) -> None:
        if state.get(i) == "done":
            return
        if state.get(i) == "visiting":
            raise DockerfileError(f"circular dependency detected on stage: {stages[i].name or i}",
                                  line)  # fmt: skip
        state[i] = "visiting"
        for ref, at in _refs(stages[i], global_env, escape):
            j = stage_ref(stages, ref)
            if j is not None:
                if j == i:
                    raise DockerfileError(f"stage {ref} cannot refer to itself", at)
                visit(j, at)
        state[i] = "done"
        order.append(i)

    visit(target, stages[target].from_.line)
    return order
