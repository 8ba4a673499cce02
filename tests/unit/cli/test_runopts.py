"""``docker run`` flags → the create body, field by field, as the docker CLI builds it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from hull.cli.errors import UsageError
from hull.cli.runopts import CreateRequest, add_run_flags, build


def parse(*argv: str) -> CreateRequest:
    p = argparse.ArgumentParser(add_help=False)
    add_run_flags(p)
    return build(p.parse_args(list(argv)))


def field(body: dict[str, Any], path: str) -> Any:
    v: Any = body
    for key in path.split("."):
        v = v[key]
    return v


CASES: list[tuple[list[str], dict[str, Any]]] = [
    ([], {
        "Image": "busybox", "Cmd": None, "Entrypoint": None, "Tty": False, "OpenStdin": False,
        "AttachStdin": False, "AttachStdout": True, "AttachStderr": True, "StdinOnce": False,
        "Env": None, "Labels": {}, "Volumes": None,
        "HostConfig.NetworkMode": "default",
        "HostConfig.RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "HostConfig.Dns": [], "HostConfig.DnsSearch": [], "HostConfig.DnsOptions": [],
        "HostConfig.Binds": None, "HostConfig.PortBindings": {},
        "HostConfig.MemorySwappiness": -1, "HostConfig.OomKillDisable": False,
        "NetworkingConfig": {"EndpointsConfig": {}},
    }),
    (["-it"], {"Tty": True, "OpenStdin": True, "AttachStdin": True, "StdinOnce": True}),
    (["-a", "stdout"], {"AttachStdout": True, "AttachStderr": False, "AttachStdin": False}),
    (["-e", "A=1", "-e", "B="], {"Env": ["A=1", "B="]}),
    (["-l", "a=b", "-l", "c"], {"Labels": {"a": "b", "c": ""}}),
    (["-p", "8080:80"], {
        "ExposedPorts": {"80/tcp": {}},
        "HostConfig.PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
    }),
    (["-p", "127.0.0.1:53:53/udp"], {
        "HostConfig.PortBindings": {"53/udp": [{"HostIp": "127.0.0.1", "HostPort": "53"}]},
    }),
    (["-p", "80"], {"HostConfig.PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": ""}]}}),
    (["-p", "8000-8001:80-81"], {
        "HostConfig.PortBindings": {
            "80/tcp": [{"HostIp": "", "HostPort": "8000"}],
            "81/tcp": [{"HostIp": "", "HostPort": "8001"}],
        },
    }),
    (["-p", "[::1]:8080:80"], {
        "HostConfig.PortBindings": {"80/tcp": [{"HostIp": "::1", "HostPort": "8080"}]},
    }),
    (["-p", "published=8080,target=80,protocol=udp"], {
        "HostConfig.PortBindings": {"80/udp": [{"HostIp": "", "HostPort": "8080"}]},
    }),
    (["-P", "--expose", "7000-7001"], {
        "HostConfig.PublishAllPorts": True, "ExposedPorts": {"7000/tcp": {}, "7001/tcp": {}},
    }),
    (["-v", "/host:/ctr:ro", "-v", "/anon", "-v", "named:/data"], {
        "HostConfig.Binds": ["/host:/ctr:ro", "named:/data"], "Volumes": {"/anon": {}},
    }),
    (["--mount", "type=bind,source=/a,target=/b,readonly,bind-propagation=rshared"], {
        "HostConfig.Mounts": [{
            "Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True,
            "BindOptions": {"Propagation": "rshared"},
        }],
    }),
    (["--mount", "target=/v,source=vol,volume-nocopy"], {
        "HostConfig.Mounts": [{
            "Type": "volume", "Source": "vol", "Target": "/v", "VolumeOptions": {"NoCopy": True},
        }],
    }),
    (["--mount", "type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770"], {
        "HostConfig.Mounts": [{
            "Type": "tmpfs", "Target": "/t",
            "TmpfsOptions": {"SizeBytes": 64 * 1024 * 1024, "Mode": 0o1770},
        }],
    }),
    (["--tmpfs", "/run:rw,size=64m", "--tmpfs", "/tmp"], {
        "HostConfig.Tmpfs": {"/run": "rw,size=64m", "/tmp": ""},
    }),
    (["--name", "web", "-h", "box", "-u", "1000:1000", "-w", "/srv"], {
        "Hostname": "box", "User": "1000:1000", "WorkingDir": "/srv",
    }),
    (["--entrypoint", "/bin/sh"], {"Entrypoint": ["/bin/sh"]}),
    (["--entrypoint="], {"Entrypoint": [""]}),
    (["--rm"], {"HostConfig.AutoRemove": True}),
    (["--restart", "on-failure:3"], {
        "HostConfig.RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
    }),
    (["--restart", "unless-stopped"], {
        "HostConfig.RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
    }),
    (["-m", "512m", "--memory-swap", "1g", "--memory-reservation", "256m"], {
        "HostConfig.Memory": 512 * 1024**2, "HostConfig.MemorySwap": 1024**3,
        "HostConfig.MemoryReservation": 256 * 1024**2,
    }),
    (["--memory-swap", "-1", "--oom-kill-disable"], {
        "HostConfig.MemorySwap": -1, "HostConfig.OomKillDisable": True,
    }),
    (["--cpus", "0.5", "-c", "512", "--cpu-quota", "50000", "--cpu-period", "100000"], {
        "HostConfig.NanoCpus": 500_000_000, "HostConfig.CpuShares": 512,
        "HostConfig.CpuQuota": 50000, "HostConfig.CpuPeriod": 100000,
    }),
    (["--cpuset-cpus", "0-1", "--cpuset-mems", "0", "--pids-limit", "64"], {
        "HostConfig.CpusetCpus": "0-1", "HostConfig.CpusetMems": "0",
        "HostConfig.PidsLimit": 64,
    }),
    (["--blkio-weight", "300", "--device-read-bps", "/dev/sda:1mb",
      "--device-write-iops", "/dev/sda:100"], {
        "HostConfig.BlkioWeight": 300,
        "HostConfig.BlkioDeviceReadBps": [{"Path": "/dev/sda", "Rate": 1024 * 1024}],
        "HostConfig.BlkioDeviceWriteIOps": [{"Path": "/dev/sda", "Rate": 100}],
    }),
    (["--device", "/dev/fuse", "--device", "/dev/sda:/dev/xvda:r"], {
        "HostConfig.Devices": [
            {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"},
            {"PathOnHost": "/dev/sda", "PathInContainer": "/dev/xvda", "CgroupPermissions": "r"},
        ],
    }),
    (["--ulimit", "nofile=1024:2048", "--ulimit", "nproc=100"], {
        "HostConfig.Ulimits": [
            {"Name": "nofile", "Hard": 2048, "Soft": 1024},
            {"Name": "nproc", "Hard": 100, "Soft": 100},
        ],
    }),
    (["--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged", "--read-only"], {
        "HostConfig.CapAdd": ["NET_ADMIN"], "HostConfig.CapDrop": ["ALL"],
        "HostConfig.Privileged": True, "HostConfig.ReadonlyRootfs": True,
    }),
    (["--security-opt", "no-new-privileges", "--security-opt", "seccomp=unconfined"], {
        "HostConfig.SecurityOpt": ["no-new-privileges", "seccomp=unconfined"],
    }),
    (["--security-opt", "systempaths=unconfined"], {
        "HostConfig.SecurityOpt": None, "HostConfig.MaskedPaths": [],
        "HostConfig.ReadonlyPaths": [],
    }),
    (["--group-add", "audio", "--shm-size", "128m", "--sysctl", "net.ipv4.ip_forward=1"], {
        "HostConfig.GroupAdd": ["audio"], "HostConfig.ShmSize": 128 * 1024**2,
        "HostConfig.Sysctls": {"net.ipv4.ip_forward": "1"},
    }),
    (["--ipc", "host", "--pid", "container:x", "--uts", "host", "--userns", "host"], {
        "HostConfig.IpcMode": "host", "HostConfig.PidMode": "container:x",
        "HostConfig.UTSMode": "host", "HostConfig.UsernsMode": "host",
    }),
    (["--network", "none"], {"HostConfig.NetworkMode": "none"}),
    (["--net", "host"], {"HostConfig.NetworkMode": "host"}),
    (["--dns", "1.1.1.1", "--dns-search", "example.com", "--dns-option", "ndots:2"], {
        "HostConfig.Dns": ["1.1.1.1"], "HostConfig.DnsSearch": ["example.com"],
        "HostConfig.DnsOptions": ["ndots:2"],
    }),
    (["--add-host", "db:10.0.0.2"], {"HostConfig.ExtraHosts": ["db:10.0.0.2"]}),
    (["--stop-signal", "SIGINT", "--stop-timeout", "5", "--init"], {
        "StopSignal": "SIGINT", "StopTimeout": 5, "HostConfig.Init": True,
    }),
    (["--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3"], {
        "HostConfig.LogConfig": {"Type": "json-file",
                                 "Config": {"max-size": "10m", "max-file": "3"}},
    }),
    (["--health-cmd", "true", "--health-interval", "5s", "--health-retries", "2"], {
        "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000,
                        "Timeout": 0, "StartPeriod": 0, "Retries": 2},
    }),
    (["--no-healthcheck"], {"Healthcheck": {"Test": ["NONE"]}}),
    (["--runtime", "crun"], {"HostConfig.Runtime": "crun"}),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "expected"), CASES, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else "")  # fmt: skip
def test_flags_to_body(flags: list[str], expected: dict[str, Any]) -> None:
    body = parse(*flags, "busybox").body
    for path, want in expected.items():
        assert field(body, path) == want, path


def test_command_name_platform_pull() -> None:
    req = parse("--name", "web", "--platform", "linux/amd64", "--pull", "never",
                "busybox", "sh", "-c", "echo -n hi")  # fmt: skip
    assert req.body["Cmd"] == ["sh", "-c", "echo -n hi"]
    assert req.params() == {"name": "web", "platform": "linux/amd64"}
    assert req.pull == "never"


def test_env_file_label_file_and_passthrough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FROM_HOST", "yes")
    monkeypatch.delenv("NOT_SET", raising=False)
    (tmp_path / "env").write_text("# comment\nA=1\n  B=two words\nFROM_HOST\nNOT_SET\n\n")
    (tmp_path / "labels").write_text("x=y\nbare\n")
    req = parse("--env-file", str(tmp_path / "env"), "-e", "FROM_HOST", "-e", "NOT_SET",
                "--label-file", str(tmp_path / "labels"), "-l", "z=1", "busybox")  # fmt: skip
    assert req.body["Env"] == ["A=1", "B=two words", "FROM_HOST=yes", "FROM_HOST=yes", "NOT_SET"]
    assert req.body["Labels"] == {"x": "y", "z": "1"}


def test_seccomp_file_sent_as_compacted_json(tmp_path: Path) -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}
    (tmp_path / "p.json").write_text(json.dumps(profile, indent=4))
    req = parse("--security-opt", f"seccomp={tmp_path / 'p.json'}", "busybox")
    assert req.body["HostConfig"]["SecurityOpt"] == [
        'seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}'
    ]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["-p", "80:x"], "invalid containerPort: x"),
        (["-p", "y:80"], "invalid hostPort: y"),
        (["-p", "80/xyz"], "invalid proto: xyz"),
        (["-p", "1.2.3:80:80"], "invalid ip address: 1.2.3"),
        (["--expose", "80:80"], "invalid port format for --expose: 80:80"),
        (["-m", "12x"], 'invalid argument "12x" for "-m, --memory" flag: invalid size'),
        (["--cpus", "abc"], "failed to parse abc as a rational number"),
        (["--restart", "sometimes"], "invalid restart policy sometimes"),
        (["--restart", "always:3"], "maximum retry count cannot be used"),
        (["--rm", "--restart", "always"], "Conflicting options: --restart and --rm"),
        (["--ulimit", "bogus=1"], "invalid ulimit type: bogus"),
        (["--pid", "weird"], "--pid: invalid PID mode"),
        (["--device", "dev/sda"], "invalid device specification: dev/sda"),
        (["-v", "rel:ctr"], "mount path must be absolute"),
        (["--mount", "type=bind,source=/a"], "target is required"),
        (["--pull", "sometimes"], "invalid pull option: 'sometimes'"),
        (["--no-healthcheck", "--health-cmd", "x"], "--no-healthcheck conflicts"),
        (["--memory-swappiness", "200"], "Valid memory swappiness range is 0-100"),
    ],
)
def test_bad_flags(flags: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(*flags, "busybox")
    assert message in info.value.message
    assert info.value.prog == "hull run"
