"""``hull build [OPTIONS] PATH | -``: build an image from a Dockerfile, through hulld.

A directory context on a local daemon (a unix socket) is read by hulld in
place (the ``hullcontext`` extension of ``POST /build``: no tar is made and
the daemon's file-hash cache stays valid between builds); otherwise, and
for ``-`` (a tar, or a lone Dockerfile, on stdin), the context goes as a tar
with ``.dockerignore`` applied here. Secrets (``--secret id=…,src=…``) go
in the ``X-Hull-Build-Secrets`` header, never in the context.

Progress: ``plain`` prints one line per event as BuildKit's plain output
(``#3 [3/9] COPY a.txt .``, ``#3 CACHED``, the RUN output, ``#3 DONE 0.1s``)
and, on each cache miss, why it missed; ``tty`` redraws the running step
with the tail of its output; ``auto`` picks tty on a terminal. ``--explain``
adds the reasons in any mode. Ctrl-C closes the connection: hulld cancels
the build and removes its temporary containers and mounts.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from collections.abc import Iterable, Iterator

from hull.oci import fastjson

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

NEEDS_DAEMON = True
_TAIL = 6


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser("build", help="Build an image from a Dockerfile")
    p.add_argument("-t", "--tag", action="append", default=[], help="Name and optionally a tag")
    p.add_argument(
        "-f", "--file", default="", help="Name of the Dockerfile (default PATH/Dockerfile)"
    )
    p.add_argument("--build-arg", action="append", default=[], help="Set build-time variables")
    p.add_argument("--target", default="", help="Set the target build stage to build")
    p.add_argument("--no-cache", action="store_true", help="Do not use cache when building")
    p.add_argument("--pull", action="store_true", help="Always attempt to pull the base images")
    p.add_argument("--label", action="append", default=[], help="Set metadata for an image")
    p.add_argument("--progress", default="auto", choices=("auto", "plain", "tty"),
                   help="Type of progress output (auto, plain, tty)")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="Print the image ID on success")
    p.add_argument("--iidfile", default="", help="Write the image ID to the file")
    p.add_argument("--secret", action="append", default=[],
                   help="Secret to expose to the build: id=ID[,src=FILE|env=VAR]")  # fmt: skip
    p.add_argument("--explain", action="store_true",
                   help="Say why each step that missed the cache missed")  # fmt: skip
    p.add_argument("context", metavar="PATH | -")
    return p


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep:
            v = os.environ.get(k, "") if what == "build-arg" else ""
            if what == "build-arg" and k not in os.environ:
                continue  # docker: --build-arg K without value and no $K is ignored
        out[k] = v
    return out


def _secret(spec: str) -> tuple[str, bytes]:
    fields = dict(f.partition("=")[::2] for f in spec.split(","))
    sid = fields.get("id", "")
    if not sid:
        raise ValueError(f"invalid secret {spec!r}: id= is required")
    src = fields.get("src") or fields.get("source")
    env = fields.get("env")
    if src:
        with open(os.path.expanduser(src), "rb") as f:
            return sid, f.read()
    name = env or sid
    if name in os.environ:
        return sid, os.environ[name].encode()
    with open(sid, "rb") as f:
        return sid, f.read()


def _is_tar(head: bytes) -> bool:
    magics = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
    return head.startswith(magics) or head[257:262] == b"ustar"


def _tar_dir(root: str, dockerfile: str, extra: dict[str, bytes], out: IO[bytes]) -> None:
    """The context dir as a tar (``.dockerignore`` applied), plus extra files."""
    import tarfile

    from hull.build.dockerignore import Matcher, walk

    matcher = Matcher.from_context(__import__("pathlib").Path(root), dockerfile)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for e in walk(root, matcher):
            full = os.path.join(root, e.path)
            ti = tf.gettarinfo(full, arcname=e.path)
            ti.uname = ti.gname = ""
            if ti.isreg():
                with open(full, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti)
        for name, data in extra.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, int(time.time())
            tf.addfile(ti, io.BytesIO(data))


def _tar_only(name: str, data: bytes, out: IO[bytes]) -> None:
    import tarfile

    with tarfile.open(fileobj=out, mode="w|") as tf:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, int(time.time())
        tf.addfile(ti, io.BytesIO(data))


def _local(host: str) -> bool:
    from hull.client.transport import parse_host

    return parse_host(host)[0] == "unix"


def run(args: argparse.Namespace, client: Any) -> int:
    params: list[tuple[str, str]] = [("t", t) for t in args.tag]
    build_args = _pairs(args.build_arg, "build-arg")
    if build_args:
        params.append(("buildargs", fastjson.dumps(build_args)))
    if args.label:
        params.append(("labels", fastjson.dumps(_pairs(args.label, "label"))))
    for flag, on in (("nocache", args.no_cache), ("pull", args.pull), ("q", args.quiet)):
        if on:
            params.append((flag, "1"))
    if args.target:
        params.append(("target", args.target))
    mode = args.progress
    if mode == "auto":
        mode = "tty" if sys.stderr.isatty() else "plain"
    if args.explain or mode == "plain":
        params.append(("explain", "1"))
    params.append(("hullprogress", "1"))
    headers = {}
    try:
        secrets = dict(_secret(s) for s in args.secret)
    except (OSError, ValueError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    if secrets:
        import base64

        doc = {k: base64.b64encode(v).decode() for k, v in secrets.items()}
        headers["X-Hull-Build-Secrets"] = base64.b64encode(fastjson.dumps(doc).encode()).decode()
    ctx = args.context
    if ctx != "-" and not os.path.isdir(ctx):
        print(f'ERROR: unable to prepare context: path "{ctx}" not found', file=sys.stderr)
        return 1
    body: io.BytesIO | None = None
    if ctx == "-":
        data = sys.stdin.buffer.read()
        body = io.BytesIO()
        if _is_tar(data[:512]):
            body.write(data)
            params.append(("dockerfile", args.file or "Dockerfile"))
        else:
            _tar_only("Dockerfile", data, body)
    elif args.file == "-" or not _local(client.host):
        root = os.path.abspath(ctx)
        extra: dict[str, bytes] = {}
        name = args.file or os.path.join(ctx, "Dockerfile")
        if args.file == "-":
            extra[".dockerfile.stdin"] = sys.stdin.buffer.read()
            name = ".dockerfile.stdin"
        else:
            rel = os.path.relpath(os.path.abspath(name), root)
            if rel.startswith(".."):
                with open(name, "rb") as f:
                    extra[".dockerfile.hull"] = f.read()
                name = ".dockerfile.hull"
            else:
                name = rel
        body = io.BytesIO()
        _tar_dir(root, name, extra, body)
        params.append(("dockerfile", name))
    else:
        root = os.path.abspath(ctx)
        name = os.path.abspath(args.file) if args.file else os.path.join(root, "Dockerfile")
        rel = os.path.relpath(name, root)
        params += [("hullcontext", root), ("dockerfile", name if rel.startswith("..") else rel)]
    if body is not None:
        headers["Content-Type"] = "application/x-tar"  # the fallback path: the tar in memory
    from hull.client.client import quote

    # repeated ``t`` parameters: the client's params mapping cannot say that
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params)
    messages: Iterator[dict[str, Any]] = client.stream(
        "POST", "/build?" + query, data=body.getvalue() if body else None,
        headers=headers,
    )  # fmt: skip
    return _show(messages, args, mode)


def _show(messages: Iterable[dict[str, Any]], args: argparse.Namespace, mode: str) -> int:
    out = sys.stderr
    view = _Tty(out) if mode == "tty" and not args.quiet else _Plain(out, args.quiet)
    view.follow_ons = bool(args.explain)
    image_id = ""
    try:
        for msg in messages:
            if "hull" in msg:
                view.event(msg["hull"])
            elif "aux" in msg:
                image_id = str(msg["aux"].get("ID") or image_id)
            elif msg.get("errorDetail") or msg.get("error"):
                detail = msg.get("errorDetail") or {}
                view.close()
                print(f"ERROR: {detail.get('message') or msg.get('error')}", file=sys.stderr)
                return 1
    finally:
        close = getattr(messages, "close", None)
        if close is not None:
            close()
    view.close()
    if not image_id:
        print("ERROR: the daemon ended the build without an image ID", file=sys.stderr)
        return 1
    if args.iidfile:
        with open(args.iidfile, "w") as f:
            f.write(image_id)
    if args.quiet:
        print(image_id)
    return 0


# a step after a missed one misses too: said once, unless --explain asks for every step
FOLLOW_ON = "an earlier step"


class _Plain:
    """BuildKit's plain progress: ``#N`` lines."""

    follow_ons = False

    def __init__(self, out: IO[str], quiet: bool) -> None:
        self.out = out
        self.quiet = quiet
        self.started: dict[int, float] = {}
        self.cached: set[int] = set()

    def write(self, text: str) -> None:
        if not self.quiet:
            self.out.write(text)
            self.out.flush()

    def event(self, e: dict[str, Any]) -> None:
        t, n = e.get("type"), e.get("n", 0)
        if t == "step":
            self.started[n] = time.monotonic()
            self.write(f"#{n} [{n}/{e['total']}] {e['text']}\n")
        elif t == "miss":
            for r in e["reasons"]:
                if self.follow_ons or not r.startswith(FOLLOW_ON):
                    self.write(f"#{n} cache miss: {r}\n")
        elif t == "output":
            elapsed = time.monotonic() - self.started.get(n, time.monotonic())
            for line in str(e["data"]).rstrip("\n").split("\n"):
                self.write(f"#{n} {elapsed:.3f} {line}\n")
        elif t == "cached":
            self.cached.add(n)
            self.write(f"#{n} CACHED\n")
        elif t == "done" and n not in self.cached:
            self.write(f"#{n} DONE {e['seconds']:.1f}s\n")
        elif t in ("warning", "message"):
            self.write(f"{e.get('message') or e.get('text')}\n")
        elif t == "result":
            self.write(f"writing image {e['id']} done\n")
            for tag in e["tags"]:
                self.write(f"naming to {tag} done\n")

    def close(self) -> None:
        self.out.flush()


class _Tty(_Plain):
    """A live view: finished steps stay, the running one is redrawn with its output's tail."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(out, False)
        self.current = ""
        self.tail: list[str] = []
        self.drawn = 0
        self.total = 0

    def _clear(self) -> None:
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}A\x1b[J")
            self.drawn = 0

    def _draw(self) -> None:
        self._clear()
        lines = [self.current] + [f"\x1b[2m  {t[:200]}\x1b[0m" for t in self.tail]
        self.out.write("".join(line + "\n" for line in lines))
        self.drawn = len(lines)
        self.out.flush()

    def event(self, e: dict[str, Any]) -> None:
        t, n = e.get("type"), e.get("n", 0)
        if t == "step":
            self.started[n] = time.monotonic()
            self.current = f"=> [{n}/{e['total']}] {e['text']}"
            self.tail = []
            self._draw()
        elif t == "output":
            self.tail = (self.tail + str(e["data"]).rstrip("\n").split("\n"))[-_TAIL:]
            self._draw()
        elif t == "miss":
            self._clear()
            for r in e["reasons"]:
                self.out.write(f"   cache miss: {r}\n")
            self._draw()
        elif t == "cached":
            self._clear()
            self.out.write(f"=> CACHED {self.current[3:]}\n")
            self.current = ""
        elif t == "done":
            if self.current:
                self._clear()
                self.out.write(f"{self.current}  {e['seconds']:.1f}s\n")
                self.current = ""
            self.tail = []
        elif t != "tick":
            self._clear()
            super().event(e)
        self.out.flush()

    def close(self) -> None:
        self._clear()
        self.out.flush()
