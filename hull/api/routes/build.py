"""``POST /build``: Docker's classic builder API; ``POST /build/prune``: drop the build cache.

The body is the build context as a tar (plain or compressed); ``dockerfile``
names the Dockerfile inside it. Query: ``t`` (repeated tags), ``buildargs``
and ``labels`` (JSON objects), ``target``, ``nocache``, ``pull``, ``q``;
``rm``, ``forcerm`` and the resource flags are accepted and have nothing to
do (RUN containers are always removed); ``remote`` is refused.

The answer is 200 with Docker's JSON lines, ``{"stream": "Step 1/N : …"}``,
`` ---> Using cache``, the RUN output, then ``{"aux": {"ID": "sha256:…"}}``
and ``Successfully built``/``tagged``; a failure is an ``errorDetail`` line
(with the RUN's exit code as ``code``), naming the Dockerfile line.

hull extensions, used by ``hull build`` and documented in docs/build.md:

- ``hullcontext=/abs/dir``: the context is that directory on the daemon's
  host, read in place (no tar, and the file-hash cache keyed by inode stays
  valid between builds); ``dockerfile`` may then be an absolute path. The
  socket is root's: a caller able to use it can read any file anyway.
- ``hullprogress=1``: the lines are the builder's own events
  (``{"hull": {"type": "step", …}}``) plus a heartbeat every second, so the
  client can render its own progress and a closed connection is noticed
  (the build is cancelled) even while a RUN prints nothing.
- ``explain=1``: say why each missed step missed.
- header ``X-Hull-Build-Secrets``: base64 of a JSON object ``{id: base64
  content}``, the secrets ``RUN --mount=type=secret`` reads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hull.errors import HullError, InvalidArgument, NotFound

from ..http import Request, Response, StreamResponse, json_response
from .images_common import body_stream

ROUTES = [("POST", "/build"), ("POST", "/build/prune")]
HEARTBEAT = 1.0
_END = object()


def _json_arg(req: Request, name: str) -> dict[str, str]:
    raw = req.arg(name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"invalid JSON in {name}: {raw!r}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{name} must be a JSON object")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _secrets(req: Request) -> dict[str, bytes]:
    raw = req.headers.get("X-Hull-Build-Secrets")
    if not raw:
        return {}
    try:
        doc = json.loads(base64.b64decode(raw))
        return {str(k): base64.b64decode(v) for k, v in doc.items()}
    except (ValueError, TypeError, AttributeError):
        raise InvalidArgument("X-Hull-Build-Secrets: expected base64 JSON {id: base64}") from None


def _short(value: str) -> str:
    return value.partition(":")[2][:12] if ":" in value else value[:12]


class _Docker:
    """Builder events as the classic builder's JSON messages."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.last = ""

    def convert(self, e: dict[str, Any]) -> list[dict[str, Any]]:
        t = e["type"]
        if t == "result":
            out: list[dict[str, Any]] = [{"aux": {"ID": e["id"]}}]
            if self.quiet:  # dockerd: with q the stream is the image ID alone
                out.append({"stream": f"{e['id']}\n"})
            else:
                out.append({"stream": f"Successfully built {_short(e['id'])}\n"})
                out += [{"stream": f"Successfully tagged {tag}\n"} for tag in e["tags"]]
            return out
        if self.quiet:
            return []
        if t == "step":
            return [{"stream": f"Step {e['n']}/{e['total']} : {e['text']}\n"}]
        if t == "cached":
            return [{"stream": " ---> Using cache\n"}]
        if t == "miss":
            return [{"stream": f" ---> cache miss: {r}\n"} for r in e["reasons"]]
        if t == "output":
            return [{"stream": e["data"]}]
        if t == "done":
            return [{"stream": f" ---> {_short(e.get('layer') or e.get('key') or '')}\n"}]
        if t in ("warning", "message"):
            return [{"stream": f"{e.get('message') or e.get('text')}\n"}]
        return []


def _error(exc: BaseException) -> dict[str, Any]:
    text = exc.message if isinstance(exc, HullError) else f"{type(exc).__name__}: {exc}"
    detail: dict[str, Any] = {"message": text}
    code = getattr(exc, "exit_code", None)
    if code is not None:
        detail["code"] = code
    return {"errorDetail": detail, "error": text}


def _line(item: dict[str, Any]) -> bytes:
    return (json.dumps(item, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def _read_dockerfile(root: Path, name: str, absolute_ok: bool) -> tuple[str, str]:
    from hull.runtime.rootfs import secure_join

    path = Path(name) if absolute_ok and name.startswith("/") else None
    if path is None:
        path = Path(secure_join(str(root), name))
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape"), path.name
    except (FileNotFoundError, IsADirectoryError):
        raise NotFound(f"Cannot locate specified Dockerfile: {name}") from None


async def _prune(req: Request) -> Response:
    from hull.build.layers import prune_cache

    app = req.app
    result = await asyncio.to_thread(lambda: prune_cache(app.images))
    return json_response(result)


async def handle(req: Request) -> StreamResponse | Response:
    if req.path.endswith("/prune"):
        return await _prune(req)
    from hull.build import Builder, BuildOptions, Context
    from hull.build.context import extract_context_tar

    from ..app import resolve_runtimes

    if req.arg("remote"):
        raise InvalidArgument("remote build contexts are not supported: send the context tar")
    app = req.app
    cfg = app.config
    tags = [t for t in req.query.get("t", []) if t]
    dockerfile = req.arg("dockerfile") or "Dockerfile"
    build_args = _json_arg(req, "buildargs")
    labels = _json_arg(req, "labels")
    target = req.arg("target") or None
    no_cache = req.bool_arg("nocache")
    pull = req.bool_arg("pull")
    quiet = req.bool_arg("q")
    explain = req.bool_arg("explain")
    hull_events = req.bool_arg("hullprogress")
    local = req.arg("hullcontext")
    secrets = _secrets(req)
    runtime = resolve_runtimes(cfg.runtimes)[cfg.default_runtime]
    work_root = Path(cfg.exec_root) / "build"
    body = None if local else body_stream(req)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(256)
    cancel = threading.Event()
    docker = _Docker(quiet)

    def put(item: Any) -> None:
        if cancel.is_set():
            return
        asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

    def emit(e: dict[str, Any]) -> None:
        if hull_events:
            put({"hull": e})
            if e["type"] == "result":
                put({"aux": {"ID": e["id"]}})
        else:
            for msg in docker.convert(e):
                put(msg)

    tmp: Path | None = None
    if body is not None:
        # the whole body is read before the answer starts: the server drops what a
        # handler left unread once its response is under way
        tmp = work_root / f"ctx-{uuid.uuid4().hex}"
        try:
            await asyncio.to_thread(extract_context_tar, body, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def work() -> None:
        try:
            if tmp is None:
                root = Path(local or "")
                ctx = Context.from_dir(root, dockerfile=dockerfile,
                                       cache_dir=cfg.data_root / "build" / "hashes" /
                                       uuid.uuid5(uuid.NAMESPACE_URL, str(root)).hex)  # fmt: skip
            else:
                root = tmp
                ctx = Context(root, dockerfile=dockerfile)
            text, name = _read_dockerfile(root, dockerfile, bool(local))
            builder = Builder(app.images, runtime=runtime, work_root=work_root, emit=emit,
                              cancel=cancel)  # fmt: skip
            result = builder.build(BuildOptions(
                text, context=ctx, dockerfile_name=name, tags=tags, build_args=build_args,
                target=target, no_cache=no_cache, pull=pull, labels=labels, secrets=secrets,
                explain=explain,
            ))  # fmt: skip
            for tag in result.tags:
                app.events.publish("image", "tag", result.image_id, {"name": tag})
            put(_END)
        except BaseException as exc:
            with contextlib.suppress(RuntimeError):
                put(exc)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    task = loop.run_in_executor(None, work)

    async def gen() -> AsyncIterator[bytes]:
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    if hull_events:
                        yield _line({"hull": {"type": "tick"}})
                    continue
                if item is _END:
                    break
                if isinstance(item, BaseException):
                    yield _line(_error(item))
                    break
                yield _line(item)
        finally:
            cancel.set()
            while not queue.empty():
                queue.get_nowait()
            with contextlib.suppress(BaseException):
                await asyncio.shield(task)

    return StreamResponse(gen(), content_type="application/json")
