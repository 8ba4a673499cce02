"""The builder: a Dockerfile and a context to an image, step by step, through the cache.

``Builder(images, runtime=…, work_root=…).build(BuildOptions(…))`` parses the
Dockerfile, picks the stages the target needs (``graph``), and runs each
stage: its FROM (an image, ``scratch`` or an earlier stage; the base's
ONBUILD triggers run first), then every instruction planned by ``steps``.

For each step the cache key (``cache.step_key``) is looked up in the
``build_cache`` table: a hit reuses the recorded layer (or, for a
metadata-only step, just the recorded history time) without running
anything; a miss runs the step's file work on a fresh overlay snapshot of
the stage's layer chain (``layers.execute``), records the new row, and, when
asked, says why it missed (``cache.explain_miss``). The image's history
times come from the cache rows, so a fully cached rebuild produces the very
same configuration bytes: the same image ID, nothing written but tags.

Progress goes to ``emit`` as dicts (``type``: step, cached, miss, output,
done, warning, result); the API turns them into Docker's JSON stream and
the CLI into BuildKit-like lines. ``cancel`` (a ``threading.Event``) stops
the build between steps and kills a running RUN; every temporary snapshot,
mount, bundle and runtime state is removed on any exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hull import metadata as md
from hull.build import graph, layers
from hull.build.cache import explain_miss, step_key
from hull.build.expand import ArgScope, platform_args, unused_build_args
from hull.build.instructions import Instruction, Stage, from_nodes, stages
from hull.build.parser import DockerfileError, parse_ast
from hull.build.state import FsContext, StageState, Step
from hull.build.steps import plan
from hull.errors import Conflict, HullError, NotFound
from hull.oci.digest import Digest
from hull.oci.image_config import ContainerConfig, History, ImageConfig, RootFS

if TYPE_CHECKING:
    from hull.build.context import Context
    from hull.build.runner import RunRequest
    from hull.images.service import ImageService, LayerBlob

__all__ = ["BuildCancelled", "BuildOptions", "BuildResult", "Builder"]

Emit = Callable[[dict[str, Any]], None]


class BuildCancelled(Conflict):
    """The build was interrupted (the client went away, or Ctrl-C)."""


@dataclass
class BuildOptions:
    """One ``hull build``."""

    dockerfile: str  # its text
    context: Context | None = None
    dockerfile_name: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, bytes] = field(default_factory=dict)
    explain: bool = False


@dataclass
class BuildResult:
    """The image built and what it took."""

    image_id: str
    tags: list[str]
    steps_run: int = 0
    steps_cached: int = 0
    warnings: list[str] = field(default_factory=list)


def _now() -> str:
    from hull.images.inspect import format_time

    return format_time(time.time())


def _platform() -> tuple[str, str]:
    import platform

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return arch, "linux"


class Builder:
    """Builds images into one ``ImageService``; see the module doc."""

    def __init__(
        self,
        images: ImageService,
        *,
        runtime: str,
        work_root: Path,
        emit: Emit | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.images = images
        self.runtime = runtime
        self.work_root = Path(work_root)
        self.emit: Emit = emit or (lambda e: None)
        self.cancel = cancel or threading.Event()
        self.context: Context | None = None
        self.secrets: Mapping[str, bytes] = {}
        self.escape = "\\"
        self._results: dict[int, StageState] = {}
        self._sources: dict[str, tuple[str, Digest | None]] = {}
        self._stages: list[Stage] = []
        self._global_env: dict[str, str] = {}
        self._opts = BuildOptions("")
        self._n = 0
        self._total = 0
        self._used: list[str] = []
        self._run = self._cached = 0
        self._from_missed = False

    # -- services for the steps (state.BuildServices) --------------------------------

    def source_of(self, ref: str) -> tuple[str, Digest | None]:
        """COPY --from / mount from: (a name for the key, the layer chain)."""
        idx = graph.stage_ref(self._stages, ref)
        if idx is not None:
            if idx not in self._results:
                raise NotFound(f"stage {ref} is not built before it is used")
            st = self._results[idx]
            return f"stage:{idx}", st.chain
        if ref not in self._sources:
            record = self._resolve_image(ref)
            self._sources[ref] = (f"image:{record.id}", self.images.unpack(record))
        return self._sources[ref]

    def view(self, chain: Digest | None) -> contextlib.AbstractContextManager[Path]:
        """A read-only mount of a layer chain."""
        return layers.view(self.images, self.work_root, chain)

    def run(self, fs: FsContext, req: RunRequest) -> None:
        """Run one RUN container (see ``runner``)."""
        layers.run_step(self, fs, req, self._n)

    def cache_dir(self, mount_id: str) -> Path:
        """The persistent dir of a RUN cache mount."""
        h = hashlib.sha256(mount_id.encode()).hexdigest()[:32]
        return self.images.data_root / "build" / "cache-mounts" / h

    def check_cancel(self) -> None:
        """Raise BuildCancelled if the build was interrupted."""
        if self.cancel.is_set():
            raise BuildCancelled("the build was cancelled")

    # -- the build --------------------------------------------------------------------

    def build(self, opts: BuildOptions) -> BuildResult:
        """Build ``opts``; the image ID (tags applied). Errors name the Dockerfile line."""
        self._opts = opts
        self.context = opts.context
        self.secrets = opts.secrets
        self.work_root.mkdir(parents=True, exist_ok=True)
        parsed = parse_ast(opts.dockerfile, opts.dockerfile_name)
        self.escape = parsed.escape
        warnings = list(parsed.warnings)
        instrs = from_nodes(parsed.nodes, escape=parsed.escape, filename=opts.dockerfile_name)
        self._stages = stages(instrs)
        arch, os_ = _platform()
        plat = platform_args(f"{os_}/{arch}", f"{os_}/{arch}")
        gscope = ArgScope.for_globals(opts.build_args, platform=plat)
        for ins in self._stages[0].global_args if self._stages else ():
            for name, default in ins.pairs:
                gscope.declare(name, default)
        self._global_env = gscope.environment()
        target = graph.target_index(self._stages, opts.target)
        order = graph.needed_stages(self._stages, target, self._global_env, self.escape)
        self._total = sum(1 + len(self._stages[i].instructions) for i in order)
        consumed: set[str] = set(gscope.consumed)
        for i in order:
            self.check_cancel()
            st = self._run_stage(self._stages[i], gscope, plat)
            consumed |= st.args.consumed
            self._results[i] = st
        warn = unused_build_args(opts.build_args, consumed)
        if warn:
            warnings.append(warn)
        for w in warnings:
            self.emit({"type": "warning", "message": w})
        image_id = self._commit_image(self._results[target], opts)
        md.touch_cache_entries(self.images.db, self._used)
        result = BuildResult(image_id, list(opts.tags), self._run, self._cached, warnings)
        self.emit({"type": "result", "id": image_id, "tags": list(opts.tags)})
        return result

    # -- stages -----------------------------------------------------------------------

    def _resolve_image(self, name: str) -> Any:
        if self._opts.pull:
            self._pull(name)
        try:
            return self.images.resolve(name)
        except NotFound:
            if self._opts.pull:
                raise
        self._pull(name)
        return self.images.resolve(name)

    def _pull(self, name: str) -> None:
        from hull.distribution import RegistrySettings
        from hull.distribution.pull import pull

        self.emit({"type": "message", "n": self._n, "text": f"pulling {name}"})
        try:
            pull(self.images, name, settings=RegistrySettings.from_env(self.images.data_root))
        except HullError as exc:
            raise NotFound(
                f"base image {name}: not found locally and cannot pull it: {exc}"
            ) from exc

    def _from(self, stage: Stage, plat: Mapping[str, str]) -> StageState:
        name = graph.base_name(stage, self._global_env, self.escape)
        idx = graph.stage_ref(self._stages, name, before=stage.index)
        arch, os_ = _platform()
        if idx is not None:
            src = self._results[idx]
            st = dataclasses.replace(src, index=stage.index, name=stage.name, scope=None,
                                     layers=list(src.layers), history=list(src.history),
                                     cmd_set=False)  # fmt: skip
            return st
        if name == "scratch":
            inputs: dict[str, Any] = {"from": "scratch", "base": "scratch"}
            st = StageState(stage.index, stage.name, ContainerConfig(), arch, os_)
        else:
            record = self._resolve_image(name)
            cfg = ImageConfig.from_bytes(record.config)
            st = StageState(
                stage.index, stage.name, cfg.config, cfg.architecture, cfg.os, cfg.variant,
                cfg.author, layers=[layers.blob_of(x) for x in record.layers],
                chain=self.images.unpack(record), history=list(cfg.history),
                base_id=str(record.id),
            )  # fmt: skip
            inputs = {"from": name, "base": str(record.id)}
        st.key = step_key("", "from", inputs)
        if md.get_cache_entry(self.images.db, st.key) is None:
            if self._opts.explain:
                reasons = explain_miss(self.images.db, "", "from", inputs)
                self.emit({"type": "miss", "n": self._n, "reasons": reasons})
            md.put_cache_entry(self.images.db, md.CacheEntry(st.key, "", "from", inputs=inputs))
            self._from_missed = True
        self._used.append(st.key)
        return st

    def _triggers(self, st: StageState) -> list[Instruction]:
        """The base image's ONBUILD triggers as instructions (then cleared)."""
        triggers = st.config.on_build or ()
        if not triggers:
            return []
        st.config = dataclasses.replace(st.config, on_build=None)
        out: list[Instruction] = []
        for expr in triggers:
            parsed = parse_ast(expr, "ONBUILD")
            out.extend(from_nodes(parsed.nodes, escape=parsed.escape, filename="ONBUILD"))
        self._total += len(out)
        return out

    def _run_stage(self, stage: Stage, gscope: ArgScope, plat: Mapping[str, str]) -> StageState:
        self._n += 1
        started = time.monotonic()
        text = f"FROM {stage.base}" + (f" AS {stage.name}" if stage.name else "")
        self.emit({"type": "step", "n": self._n, "total": self._total, "stage": stage.index,
                   "text": text})  # fmt: skip
        self._from_missed = False
        try:
            st = self._from(stage, plat)
        except HullError as exc:
            raise _at_line(exc, stage.from_.line, self._opts.dockerfile_name) from exc
        st.scope = ArgScope(self._opts.build_args, gscope.values, platform=plat)
        self.emit({"type": "done", "n": self._n, "seconds": time.monotonic() - started,
                   "key": st.key})  # fmt: skip
        prior_miss = self._n if self._from_missed else None
        for ins in [*self._triggers(st), *stage.instructions]:
            self.check_cancel()
            self._n += 1
            prior_miss = self._step(ins, st, prior_miss)
        return st

    def _step(self, ins: Instruction, st: StageState, prior_miss: int | None) -> int | None:
        n = self._n
        started = time.monotonic()
        try:
            step = plan(ins, st, self)
            key = step_key(st.key, step.kind, step.inputs)
            self.emit({"type": "step", "n": n, "total": self._total, "stage": st.index,
                       "text": step.text, "line": ins.line})  # fmt: skip
            entry = None if self._opts.no_cache else md.get_cache_entry(self.images.db, key)
            if (
                entry is not None
                and step.kind == "layer"
                and not layers.present(self.images, entry)
            ):
                entry = None
            if entry is not None:
                self._cached += 1
                self._used.append(key)
                self.emit({"type": "cached", "n": n})
                created = str(entry.history.get("created") or _now())
                layer = layers.blob_of_entry(entry)
                chain = entry.chain_id
            else:
                if self._opts.explain:
                    reasons = (
                        ["--no-cache"] if self._opts.no_cache
                        else [f"an earlier step (#{prior_miss}) missed the cache"]
                        if prior_miss is not None
                        else explain_miss(self.images.db, st.key, step.kind, step.inputs)
                    )  # fmt: skip
                    self.emit({"type": "miss", "n": n, "reasons": reasons})
                prior_miss = prior_miss or n
                created = _now()
                layer, chain = self._execute(step, st, key, created)
            if step.apply is not None:
                step.apply(st)
        except HullError as exc:
            raise _at_line(exc, ins.line, self._opts.dockerfile_name) from exc
        if layer is not None:
            st.layers.append(layer)
            st.chain = chain
        if step.history:
            st.history.append(History(created=created, created_by=f"{step.text} # buildkit",
                                      empty_layer=layer is None))  # fmt: skip
        st.key = key
        self.emit({"type": "done", "n": n, "seconds": time.monotonic() - started, "key": key,
                   "layer": str(layer.diff_id) if layer is not None else ""})  # fmt: skip
        return prior_miss

    def _execute(
        self, step: Step, st: StageState, key: str, created: str
    ) -> tuple[LayerBlob | None, Digest | None]:
        self._run += 1
        layer: LayerBlob | None = None
        chain: Digest | None = None
        if step.kind == "layer" and step.fs is not None:
            layer, chain = layers.execute(self, step, st)
        entry = md.CacheEntry(
            key, st.key, step.kind, history={"created": created}, inputs=step.inputs
        )
        if layer is not None:
            entry = dataclasses.replace(
                entry, chain_id=chain, diff_id=layer.diff_id, digest=layer.digest,
                media_type=layer.media_type, size=layer.size, diff_size=layer.diff_size,
            )  # fmt: skip
        md.put_cache_entry(self.images.db, entry)
        self._used.append(key)
        return layer, chain

    # -- the image --------------------------------------------------------------------

    def _commit_image(self, st: StageState, opts: BuildOptions) -> str:
        cfg = st.config
        if opts.labels:
            cfg = dataclasses.replace(cfg, labels={**cfg.labels, **opts.labels})
        created = st.history[-1].created if st.history else None
        image = ImageConfig(
            architecture=st.architecture, os=st.os, variant=st.variant, author=st.author,
            rootfs=RootFS(tuple(x.diff_id for x in st.layers)), config=cfg, created=created,
            history=tuple(st.history),
        )  # fmt: skip
        data = image.to_bytes()
        image_id = image.digest()
        if md.has_image(self.images.db, image_id):
            from hull.images.reference import parse_reference

            for tag in opts.tags:
                try:  # a rebuild that changed nothing: the tag is there already
                    if md.resolve_tag(self.images.db, str(parse_reference(tag))) == image_id:
                        continue
                except HullError:
                    pass
                self.images.tag(str(image_id), tag)
        else:
            self.images.create_image(data, st.layers, tags=opts.tags)
        return str(image_id)


def _at_line(exc: HullError, line: int, filename: str) -> HullError:
    """The same error, its message naming the Dockerfile line (once)."""
    if isinstance(exc, (DockerfileError, BuildCancelled)) or exc.message.startswith(filename):
        return exc
    exc.message = f"{filename}:{line}: {exc.message}"
    exc.args = (exc.message,)
    return exc
