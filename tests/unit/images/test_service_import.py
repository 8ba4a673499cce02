"""docker import (--change) and the offline busybox image."""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_service_helpers import layer_tar

from hull.errors import InvalidArgument
from hull.images import ImageService, apply_changes, bootstrap_busybox, host_mirror, import_rootfs
from hull.images.inspect import raw_config


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    s = ImageService(tmp_path / "root", durable=False)
    try:
        yield s
    finally:
        s.close()


def test_import_targz_with_changes(svc: ImageService, tmp_path: Path) -> None:
    path = tmp_path / "rootfs.tar.gz"
    path.write_bytes(gzip.compress(layer_tar({"etc/hostname": b"x\n", "bin/true": b""})))
    record = import_rootfs(
        svc, path, reference="imported:1", changes=['CMD ["sh"]', "ENV A=1", "ENV B 2 3"]
    )
    cfg = raw_config(record)
    assert cfg["config"]["Cmd"] == ["sh"]
    assert cfg["config"]["Env"] == ["A=1", "B=2 3"]
    assert cfg["comment"] == f"Imported from {path}"
    assert cfg["history"][0]["comment"] == f"Imported from {path}"
    assert len(cfg["rootfs"]["diff_ids"]) == 1
    assert svc.resolve("imported:1").id == record.id
    assert record.layers[0].media_type.endswith("+gzip")  # stored as given
    hist = svc.history("imported:1")
    assert hist[0]["Comment"] == f"Imported from {path}" and hist[0]["CreatedBy"] == ""
    stream = import_rootfs(svc, io.BytesIO(layer_tar({"a": b"a"})), message="hello")  # type: ignore[arg-type]
    assert raw_config(stream)["comment"] == "hello"
    anon = import_rootfs(svc, io.BytesIO(layer_tar({"b": b"b"})))  # type: ignore[arg-type]
    assert raw_config(anon)["comment"] == "Imported from -"


@pytest.mark.parametrize(
    ("change", "key", "value"),
    [
        ("CMD echo hi", "Cmd", ["/bin/sh", "-c", "echo hi"]),
        ('ENTRYPOINT ["/bin/app", "-x"]', "Entrypoint", ["/bin/app", "-x"]),
        ("entrypoint /bin/app -x", "Entrypoint", ["/bin/sh", "-c", "/bin/app -x"]),
        ('ENV A="one two" B=3', "Env", ["A=one two", "B=3"]),
        ('LABEL a=b "c d"=e', "Labels", {"a": "b", "c d": "e"}),
        ("EXPOSE 80 53/udp 8000-8001", "ExposedPorts", {
            "80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}}),
        ("ONBUILD RUN make", "OnBuild", ["RUN make"]),
        ("STOPSIGNAL SIGTERM", "StopSignal", "SIGTERM"),
        ("USER nobody:nogroup", "User", "nobody:nogroup"),
        ('VOLUME ["/data", "/logs"]', "Volumes", {"/data": {}, "/logs": {}}),
        ("VOLUME /a /b", "Volumes", {"/a": {}, "/b": {}}),
        ("WORKDIR /srv/app", "WorkingDir", "/srv/app"),
    ],
)  # fmt: skip
def test_change_instructions(change: str, key: str, value: object) -> None:
    assert apply_changes({}, [change])[key] == value


def test_change_errors_and_relative_workdir() -> None:
    assert apply_changes({}, ["WORKDIR /a", "WORKDIR b"])["WorkingDir"] == "/a/b"
    with pytest.raises(InvalidArgument, match="run is not a valid change command"):
        apply_changes({}, ["RUN true"])
    with pytest.raises(InvalidArgument):
        apply_changes({}, ["ONBUILD FROM x"])
    with pytest.raises(InvalidArgument):
        apply_changes({}, ["EXPOSE 70000"])


def test_host_mirror_reads_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
    )
    assert host_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://one.example/debian bookworm main\n"
    )
    assert host_mirror(tmp_path) == "http://one.example/debian"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount the snapshot")
def test_bootstrap_busybox_is_reproducible_and_runs(svc: ImageService, tmp_path: Path) -> None:
    a = bootstrap_busybox(svc)
    b = bootstrap_busybox(svc)
    assert a.id == b.id
    with ImageService(tmp_path / "other", durable=False) as other:
        assert bootstrap_busybox(other, "bb:x").id == a.id
    cfg = json.loads(a.config)
    assert cfg["config"]["Cmd"] == ["sh"] and cfg["config"]["Env"][0].startswith("PATH=")
    assert svc.resolve("busybox").id == a.id
    svc.prepare_rootfs("bbtest", "busybox")
    target = tmp_path / "mnt"
    target.mkdir()
    svc.snapshots.mount("bbtest", target)
    try:
        assert os.readlink(target / "bin" / "sh") == "busybox"
        assert (target / "bin" / "busybox").stat().st_mode & 0o111
        assert (target / "tmp").stat().st_mode & 0o7777 == 0o1777
        assert "root:x:0:0" in (target / "etc" / "passwd").read_text()
    finally:
        svc.snapshots.unmount(target)
        svc.snapshots.remove("bbtest")


def test_bootstrap_debian_reuses_its_cached_tarball(svc: ImageService) -> None:
    import subprocess

    from hull.images import bootstrap_debian

    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    cache = svc.data_root / "cache" / f"debootstrap-bookworm-{arch}.tar"
    cache.parent.mkdir()
    cache.write_bytes(layer_tar({"etc/debian_version": b"12.0\n", "bin/bash": b""}))
    a = bootstrap_debian(svc)  # no debootstrap run: the cache is there
    b = bootstrap_debian(svc, reference="deb:again")
    assert a.id == b.id and svc.resolve("debian:bookworm").id == a.id
    cfg = raw_config(a)
    assert cfg["config"]["Cmd"] == ["bash"]
    assert cfg["history"][0]["created_by"] == "debootstrap --variant=minbase bookworm"
