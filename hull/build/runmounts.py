"""``RUN --mount``: secret, cache, bind and tmpfs mounts of a RUN container.

- ``type=secret``: the content given to the build (``--secret id=…``) is
  written to a file in the step's bundle dir (mode 0400 unless ``mode=``) and
  bind-mounted read-only at ``target`` (default ``/run/secrets/<id>``); with
  ``env=NAME`` it is in the environment instead. The file lives outside the
  snapshot, and the mount point stub is removed after the run, so no layer
  ever holds it. A missing secret is skipped, or an error with ``required``.
  Secrets are not part of the cache key (as BuildKit's).
- ``type=cache``: a persistent host dir per ``id`` (default: the target)
  under the builder's cache-mount root, bind-mounted read-write; never in a
  layer, kept across builds.
- ``type=bind``: a context path (or ``from=`` a stage or image) bound
  read-only; its files' checksum joins the cache key. ``rw`` is accepted
  but the mount stays read-only (Docker discards such writes anyway).
- ``type=tmpfs``: a tmpfs at the target.
- ``type=ssh`` is refused: hull has no SSH agent forwarding.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hull.build.instructions import RunMount
from hull.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from hull.build.instructions import RunInstr
    from hull.build.runner import RunRequest
    from hull.build.state import BuildServices, FsContext
    from hull.build.steps import Expander

__all__ = ["PlannedMounts", "plan_mounts"]


@dataclass
class PlannedMounts:
    """The mounts of one RUN and what they add to its cache key."""

    mounts: list[RunMount]
    svc: BuildServices
    inputs: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def prepared(self, ctx: FsContext, req: RunRequest) -> Iterator[None]:
        """Add the mounts to ``req`` for the duration of the run."""
        with contextlib.ExitStack() as stack:
            for n, m in enumerate(self.mounts):
                self._add(n, m, ctx, req, stack)
            yield

    def _add(
        self, n: int, m: RunMount, ctx: FsContext, req: RunRequest, stack: contextlib.ExitStack
    ) -> None:
        if m.type == "secret":
            sid = m.id or posixpath.basename(m.target)
            data = self.svc.secrets.get(sid)
            if data is None:
                if m.required:
                    raise NotFound(f"secret {sid} not found: pass it with --secret id={sid},src=…")
                return
            if m.env:
                req.env.append(f"{m.env}={data.decode('utf-8', 'surrogateescape')}")
                if not m.target:
                    return
            path = ctx.bundle / f"secret-{n}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, data)
                os.fchown(fd, m.uid or 0, m.gid or 0)
                os.fchmod(fd, m.mode if m.mode is not None else 0o400)
            finally:
                os.close(fd)
            target = m.target or f"/run/secrets/{sid}"
            req.mounts.append(_bind(str(path), target, True))
        elif m.type == "cache":
            host = self.svc.cache_dir(m.id or m.target)
            if not host.exists():
                host.mkdir(parents=True, mode=0o700)
                os.chown(host, m.uid or 0, m.gid or 0)
                os.chmod(host, m.mode if m.mode is not None else 0o755)
            req.mounts.append(_bind(str(host), _abs(m.target, req.cwd), m.readonly))
        elif m.type == "bind":
            if m.from_:
                _, chain = self.svc.source_of(m.from_)
                root = stack.enter_context(self.svc.view(chain))
                from hull.runtime.rootfs import secure_join

                src = secure_join(str(root), m.source or "/")
            else:
                if self.svc.context is None:
                    raise InvalidArgument("RUN --mount=type=bind needs a build context")
                src = str(self.svc.context.resolve(m.source or "."))
            req.mounts.append(_bind(src, _abs(m.target, req.cwd), True))
        elif m.type == "tmpfs":
            opts = ["nosuid", "nodev"] + ([f"size={m.size}"] if m.size else [])
            dest = _abs(m.target, req.cwd)
            req.mounts.append(
                {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts}
            )
        else:
            raise InvalidArgument(f"RUN --mount=type={m.type} is not supported by hull")


def _abs(target: str, cwd: str) -> str:
    if not target:
        raise InvalidArgument("RUN --mount: target is required")
    return target if target.startswith("/") else posixpath.join(cwd or "/", target)


def _bind(src: str, dest: str, readonly: bool) -> dict[str, Any]:
    opts = ["rbind", "ro" if readonly else "rw", "nosuid", "nodev"]
    return {"destination": dest, "type": "bind", "source": src, "options": opts}


def plan_mounts(ins: RunInstr, ex: Expander, svc: BuildServices) -> PlannedMounts:
    """Parse (with expansion) the ``--mount`` flags of a RUN; their key inputs."""
    mounts = [RunMount.parse(spec, ex.word) for spec in ins.mount_specs]
    inputs: dict[str, Any] = {}
    binds: list[str] = []
    for m in mounts:
        if m.type == "ssh":
            raise InvalidArgument("RUN --mount=type=ssh is not supported by hull")
        if m.type == "bind" and not m.from_:
            if svc.context is None:
                raise InvalidArgument("RUN --mount=type=bind needs a build context")
            binds.append(str(svc.context.checksum([m.source or "."])))
        elif m.type == "bind":
            binds.append(f"{m.from_}:{svc.source_of(m.from_)[1]}")
    if binds:
        inputs["files"] = "sha256:" + hashlib.sha256("\n".join(binds).encode()).hexdigest()
    if ex.used:
        inputs["mount_args"] = dict(sorted(ex.used.items()))
    return PlannedMounts(mounts, svc, inputs)
