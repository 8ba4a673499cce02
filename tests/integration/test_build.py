"""The builder against the real kernel: busybox base, overlay snapshots, hull-runtime RUNs.

One image store per module (``bootstrap_busybox``); each test builds in its
own context dir. After every build the store must hold no active snapshot
and no mount under the temp dir: what a step makes, it removes.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hull.build import Builder, BuildOptions, Context
from hull.build.builder import BuildCancelled
from hull.build.runner import RunFailed
from hull.errors import HullError, InvalidArgument, NotFound
from hull.images import ImageService, bootstrap_busybox
from hull.oci.image_config import ImageConfig
from hull.snapshots import Kind
from tests.conftest import hull_runtime_path, requires_root
from tests.unit.api.test_containers_routes import unmount_under

pytestmark = [requires_root]


class Env:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.svc = ImageService(root / "data")
        bootstrap_busybox(self.svc)
        self.events: list[dict[str, Any]] = []
        self.n = 0

    def ctx(self, files: dict[str, str | bytes]) -> Path:
        self.n += 1
        d = self.root / f"ctx{self.n}"
        d.mkdir()
        write(d, files)
        return d

    def build(self, ctx: Path | None, dockerfile: str | None = None, **kw: Any) -> str:
        self.events = []
        text = dockerfile if dockerfile is not None else (ctx / "Dockerfile").read_text()  # type: ignore[operator]
        b = Builder(self.svc, runtime=hull_runtime_path(), work_root=self.root / "work",
                    emit=self.events.append, cancel=kw.pop("cancel", None))  # fmt: skip
        context = Context.from_dir(ctx, cache_dir=self.root / "hashes") if ctx else None
        try:
            return b.build(BuildOptions(text, context=context, **kw)).image_id
        finally:
            self.assert_clean()

    def assert_clean(self) -> None:
        left = [i.name for i in self.svc.snapshots.list() if i.kind is not Kind.COMMITTED]
        assert left == []
        with open("/proc/self/mountinfo") as f:
            assert not [ln for ln in f if str(self.root) in ln]
        assert not [p for p in (self.root / "work").iterdir() if p.name != "runtime"]
        assert list((self.root / "work" / "runtime").glob("*")) == []

    def ran(self) -> list[int]:
        """Step numbers that ran (not cached)."""
        cached = {e["n"] for e in self.events if e["type"] == "cached"}
        return [e["n"] for e in self.events if e["type"] == "step" and e["n"] not in cached]

    def texts(self, kind: str) -> list[Any]:
        return [e for e in self.events if e["type"] == kind]

    def config(self, image_id: str) -> ImageConfig:
        return ImageConfig.from_bytes(self.svc.resolve(image_id).config)

    def files(self, image_id: str) -> dict[str, tarfile.TarInfo]:
        """The image's files: layers applied in order (whiteouts honoured)."""
        out: dict[str, tarfile.TarInfo] = {}
        self.data: dict[str, bytes] = {}
        for layer in self.svc.resolve(image_id).layers:
            assert layer.digest is not None
            for ti, data in layer_members(self.svc, layer.digest):
                name = ti.name.rstrip("/")
                base = os.path.basename(name)
                if base.startswith(".wh."):
                    gone = os.path.join(os.path.dirname(name), base[4:])
                    for k in [k for k in out if k == gone or k.startswith(gone + "/")]:
                        del out[k]
                    continue
                out[name] = ti
                if data is not None:
                    self.data[name] = data
        return out


def layer_members(svc: ImageService, digest: Any) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    with svc.content.open(digest) as f, tarfile.open(fileobj=f, mode="r|*") as tf:
        for ti in tf:
            fobj = tf.extractfile(ti) if ti.isreg() else None
            yield ti, fobj.read() if fobj is not None else None


def write(d: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    root = Path(tempfile.mkdtemp(prefix="hull-build-test-"))
    try:
        e = Env(root)
        yield e
        e.svc.close()
    finally:
        unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def test_every_instruction(env: Env) -> None:
    ctx = env.ctx(
        {
            "Dockerfile": """# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE}
MAINTAINER someone@example.com
LABEL a=1 "b c"=2
ENV GREETING=hello PATHX=/x
ARG WHO=world
WORKDIR /work/dir
USER root
COPY --chmod=0750 --chown=65534:65534 script.sh ./
ADD files.tar.gz /opt/
COPY dir/ /copied/
RUN echo "$GREETING $WHO" > /work/dir/out.txt && pwd >> /work/dir/out.txt
RUN ["/bin/sh", "-c", "echo exec-form > /exec.txt"]
SHELL ["/bin/sh", "-ec"]
RUN echo shell-$0 > /shell.txt
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=2 CMD true
ONBUILD RUN echo triggered > /onbuild.txt
ENTRYPOINT ["/bin/sh"]
CMD ["-c", "cat /work/dir/out.txt"]
""",
            "script.sh": "#!/bin/sh\necho hi\n",
            "dir/x.txt": "x",
            "dir/sub/y.txt": "y",
        }
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"from the tar\n"
        ti = tarfile.TarInfo("pkg/readme")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    (ctx / "files.tar.gz").write_bytes(buf.getvalue())
    image = env.build(ctx, build_args={"WHO": "there"}, tags=["every:1"])
    cfg = env.config(image)
    c = cfg.config
    assert cfg.author == "someone@example.com"
    assert c.labels == {"a": "1", "b c": "2"}
    assert "GREETING=hello" in (c.env or ()) and "PATHX=/x" in (c.env or ())
    assert c.working_dir == "/work/dir" and c.user == "root"
    assert set(c.exposed_ports) == {"80/tcp", "53/udp"} and c.volumes == ("/data",)
    assert c.stop_signal == "SIGTERM" and c.shell == ("/bin/sh", "-ec")
    assert c.healthcheck is not None and c.healthcheck.test == ("CMD-SHELL", "true")
    assert c.healthcheck.interval == 5 * 10**9 and c.healthcheck.retries == 2
    assert c.on_build == ("RUN echo triggered > /onbuild.txt",)
    assert c.entrypoint == ("/bin/sh",) and c.cmd == ("-c", "cat /work/dir/out.txt")
    files = env.files(image)
    assert env.data["work/dir/out.txt"] == b"hello there\n/work/dir\n"
    assert env.data["exec.txt"] == b"exec-form\n"
    assert env.data["shell.txt"] == b"shell-/bin/sh\n"
    s = files["work/dir/script.sh"]
    assert (s.mode & 0o7777, s.uid, s.gid) == (0o750, 65534, 65534)
    assert env.data["opt/pkg/readme"] == b"from the tar\n"
    assert env.data["copied/x.txt"] == b"x" and env.data["copied/sub/y.txt"] == b"y"
    assert files["copied/x.txt"].uid == 0
    # metadata-only steps are empty layers in the history, as Docker's
    hist = cfg.history
    assert sum(not h.empty_layer for h in hist) == len(cfg.rootfs.diff_ids)
    assert any(h.created_by.startswith("ENV GREETING=hello") and h.empty_layer for h in hist)
    assert env.svc.resolve("every:1").id == env.svc.resolve(image).id
    # ONBUILD triggers run in a child build, then are gone from its config
    child = env.build(None, "FROM every:1\nRUN test -f /onbuild.txt\n")
    assert env.config(child).config.on_build is None
    assert env.data.get("onbuild.txt") is None
    assert env.files(child) and env.data["onbuild.txt"] == b"triggered\n"


def test_cache_rules(env: Env) -> None:
    ctx = env.ctx(
        {
            "Dockerfile": """FROM busybox
RUN echo one > /one
COPY a.txt /a.txt
ARG V=1
RUN echo before-use > /b
RUN echo $V > /v
COPY b.txt /b.txt
CMD ["sh"]
""",
            "a.txt": "a",
            "b.txt": "b",
        }
    )
    first = env.build(ctx)
    assert env.ran() == [1, 2, 3, 4, 5, 6, 7, 8]
    # an unchanged rebuild runs nothing and gives the same image
    assert env.build(ctx) == first and env.ran() == [1]
    # touching mtimes keeps the cache
    os.utime(ctx / "a.txt", (1, 1))
    os.utime(ctx / "b.txt", (2, 2))
    assert env.build(ctx) == first and env.ran() == [1]
    # new content reruns that COPY and what follows, not what precedes
    (ctx / "a.txt").write_text("A")
    second = env.build(ctx, explain=True)
    assert env.ran() == [1, 3, 4, 5, 6, 7, 8] and second != first
    misses = {e["n"]: e["reasons"] for e in env.texts("miss")}
    assert misses[3] == ["files changed: a.txt"]
    assert misses[4] == ["an earlier step (#3) missed the cache"]
    # a build arg reruns from its first use (RUN sees every declared ARG)
    env.build(ctx, build_args={"V": "2"}, explain=True)
    assert env.ran() == [1, 5, 6, 7, 8]
    assert env.texts("miss")[0]["reasons"] == ['build arg V changed: "1" → "2"']
    # --no-cache runs everything again
    env.build(ctx, no_cache=True)
    assert env.ran() == list(range(1, 9))
    # a changed instruction is named
    (ctx / "Dockerfile").write_text(
        (ctx / "Dockerfile").read_text().replace("echo one", "echo uno")
    )
    env.build(ctx, explain=True)
    assert env.texts("miss")[0]["reasons"] == [
        'instruction changed: "RUN echo one > /one" → "RUN echo uno > /one"'
    ]


def test_multi_stage_target_and_copy_from(env: Env) -> None:
    ctx = env.ctx(
        {
            "Dockerfile": """FROM busybox AS base
RUN echo base > /base.txt

FROM base AS builder
RUN echo built > /artifact

FROM busybox AS unused
RUN exit 1

FROM busybox
COPY --from=builder /artifact /from-builder
COPY --from=0 /base.txt /from-base
COPY --from=busybox /etc/passwd /passwd-copy
"""
        }
    )
    image = env.build(ctx)
    env.files(image)
    assert env.data["from-builder"] == b"built\n" and env.data["from-base"] == b"base\n"
    assert env.data["passwd-copy"].startswith(b"root:")
    assert "RUN exit 1" not in [e["text"] for e in env.texts("step")]
    tgt = env.build(ctx, target="builder")
    files = env.files(tgt)
    assert "artifact" in files and "from-builder" not in files
    with pytest.raises(NotFound, match="failed to reach build target nope"):
        env.build(ctx, target="nope")
    with pytest.raises(HullError, match=r"circular|itself"):
        env.build(None, "FROM busybox AS a\nCOPY --from=a /x /y\n")


def test_dockerignore_heredocs_and_errors(env: Env) -> None:
    ctx = env.ctx(
        {
            "Dockerfile": """FROM busybox
COPY . /ctx/
COPY <<EOF /here.txt
hello $NAME
EOF
ARG NAME=dock
RUN <<EOT
echo "script $NAME" > /script.txt
EOT
RUN cat <<EOF > /cat.txt
catted
EOF
""",
            ".dockerignore": "*.log\nsecret/\n!secret/keep.txt\n",
            "keep.txt": "k",
            "debug.log": "l",
            "secret/key": "s",
            "secret/keep.txt": "kk",
        }
    )
    image = env.build(ctx)
    files = env.files(image)
    assert "ctx/keep.txt" in files and "ctx/debug.log" not in files
    assert "ctx/secret/key" not in files and env.data["ctx/secret/keep.txt"] == b"kk"
    assert env.data["here.txt"] == b"hello \n"  # NAME is not declared yet there
    assert env.data["script.txt"] == b"script dock\n"
    assert env.data["cat.txt"] == b"catted\n"
    with pytest.raises(RunFailed, match=r'Dockerfile:2: process "/bin/sh -c echo out; exit 3" '
                       r"did not complete successfully: exit code: 3") as err:  # fmt: skip
        env.build(None, "FROM busybox\nRUN echo out; exit 3\n")
    assert err.value.exit_code == 3 and "out" in err.value.output
    with pytest.raises(NotFound, match="Dockerfile:2"):
        env.build(ctx, "FROM busybox\nCOPY missing.txt /\n")
    with pytest.raises(InvalidArgument, match="Dockerfile:2: unknown instruction: BOGUS"):
        env.build(ctx, "FROM busybox\nBOGUS x\n")
    with pytest.raises(InvalidArgument, match="more than one source"):
        env.build(ctx, "FROM busybox\nCOPY keep.txt Dockerfile /dest\n")
    # ../ cannot leave the context: it names the context root's own files
    image = env.build(ctx, "FROM busybox\nCOPY ../keep.txt /k\n")
    env.files(image)
    assert env.data["k"] == b"k"


def test_secret_never_in_a_layer(env: Env) -> None:
    secret = b"s3cr3t-value-" + os.urandom(8).hex().encode()
    ctx = env.ctx(
        {
            "Dockerfile": """FROM busybox
RUN --mount=type=secret,id=tok cat /run/secrets/tok > /dev/null && cp /run/secrets/tok /x \\
    && rm /x
RUN --mount=type=secret,id=tok,target=/etc/tok.conf,required test -s /etc/tok.conf
RUN --mount=type=cache,target=/cache echo cached > /cache/f
"""
        }
    )
    image = env.build(ctx, secrets={"tok": secret})
    for layer in env.svc.resolve(image).layers:
        assert layer.digest is not None
        with env.svc.content.open(layer.digest) as f:
            assert secret not in f.read()
        for ti, _ in layer_members(env.svc, layer.digest):
            assert "secrets" not in ti.name and "tok" not in ti.name and "cache" not in ti.name
    with pytest.raises(NotFound, match="Dockerfile:2: secret tok not found"):
        env.build(ctx, "FROM busybox\nRUN --mount=type=secret,id=tok,required true\n")


def test_cancel_cleans_up(env: Env) -> None:
    cancel = threading.Event()
    timer = threading.Timer(1.0, cancel.set)
    timer.start()
    try:
        with pytest.raises(BuildCancelled):
            env.build(None, "FROM busybox\nRUN sleep 30\n", cancel=cancel)
    finally:
        timer.cancel()
    assert json.dumps(env.events)  # events stayed serialisable
