"""The create request: parsing as Go would, inspect shape, image merge, Docker's validation."""

from __future__ import annotations

from typing import Any

import pytest

from hull.engine.config import (
    ContainerConfig,
    HostConfig,
    LogConfig,
    RestartPolicy,
    normalize_capabilities,
    parse_create_body,
    parse_uint_list,
    validate,
)
from hull.engine.defaults import merge_image_config, with_create_defaults
from hull.errors import InvalidArgument
from hull.oci.image_config import ContainerConfig as ImageCC
from hull.oci.image_config import HealthConfig as ImageHealth

# -- parsing ----------------------------------------------------------------------------


def test_parse_create_body_reads_every_part() -> None:
    req = parse_create_body(
        {
            "Image": "busybox",
            "Cmd": ["echo", "hi"],
            "Env": ["A=1"],
            "Tty": True,
            "ExposedPorts": {"80/tcp": {}},
            "Labels": {"a": "b"},
            "StopTimeout": 5,
            "HostConfig": {
                "Memory": 64 * 1024 * 1024,
                "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                "Mounts": [{"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 1}}],
                "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
                "PidsLimit": 100,
                "Init": True,
            },
            "NetworkingConfig": {"EndpointsConfig": {}},
        }
    )
    c, h = req.config, req.host_config
    assert c.image == "busybox" and c.cmd == ("echo", "hi")
    assert c.env == ("A=1",) and c.tty and c.exposed_ports == ("80/tcp",)
    assert c.stop_timeout == 5 and c.entrypoint is None
    assert h.memory == 64 * 1024 * 1024
    assert h.port_bindings["80/tcp"][0].host_port == "8080"  # type: ignore[index]
    assert h.restart_policy == RestartPolicy("on-failure", 3)
    assert h.mounts is not None and h.mounts[0].tmpfs_options is not None
    assert h.mounts[0].tmpfs_options.size_bytes == 1
    assert h.ulimits is not None and (h.ulimits[0].soft, h.ulimits[0].hard) == (1024, 2048)
    assert h.pids_limit == 100 and h.init is True
    assert req.networking_config == {"EndpointsConfig": {}}


def test_strslice_accepts_a_string_and_keeps_null_apart_from_empty() -> None:
    assert ContainerConfig.from_json({"Cmd": "echo hi"}).cmd == ("echo hi",)
    assert ContainerConfig.from_json({"Entrypoint": []}).entrypoint == ()
    assert ContainerConfig.from_json({"Entrypoint": None}).entrypoint is None


def test_keys_match_case_insensitively_as_go_does() -> None:
    assert HostConfig.from_json({"memory": 7 * 1024 * 1024}).memory == 7 * 1024 * 1024


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"HostConfig": {"Memory": "1g"}},
            "json: cannot unmarshal string into Go struct field HostConfig.Memory of type int64",
        ),
        (
            {"HostConfig": {"Privileged": 1}},
            "cannot unmarshal number into Go struct field HostConfig.Privileged of type bool",
        ),
        (
            {"Env": "A=1"},
            "cannot unmarshal string into Go struct field Config.Env of type []string",
        ),
        (
            {"Env": ["A", 1]},
            "cannot unmarshal number into Go struct field Config.Env of type string",
        ),
        (
            {"HostConfig": {"BlkioWeight": 70000}},
            "number 70000 into Go struct field HostConfig.BlkioWeight of type uint16",
        ),
        (
            {"HostConfig": {"Memory": 1.5}},
            "cannot unmarshal number into Go struct field HostConfig.Memory",
        ),
        ({"HostConfig": {"RestartPolicy": "always"}}, "HostConfig.RestartPolicy of type"),
        (
            {"HostConfig": {"RestartPolicy": {"Name": 1}}},
            "HostConfig.RestartPolicy.Name of type string",
        ),
        ({"Labels": {"a": 1}}, "Config.Labels[a] of type string"),
        (
            {"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 80}]}}},
            "HostPort of type string",
        ),
    ],
)
def test_wrong_types_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_create_body(body)
    assert message in str(err.value)


def test_round_trip_and_inspect_shape() -> None:
    h = HostConfig.from_json({"Memory": 6 * 1024 * 1024, "CapAdd": ["NET_ADMIN"], "Init": False})
    out = h.to_json()
    # every field of HostConfig is shown, zero values too, in Go's order
    keys = list(out)
    assert keys[:4] == ["Binds", "ContainerIDFile", "LogConfig", "NetworkMode"]
    assert out["Binds"] is None and out["ContainerIDFile"] == "" and out["Privileged"] is False
    assert out["LogConfig"] == {"Type": "", "Config": {}}
    assert out["RestartPolicy"] == {"Name": "", "MaximumRetryCount": 0}
    assert out["MemorySwappiness"] is None and out["PidsLimit"] is None
    assert out["ConsoleSize"] == [0, 0] and out["Init"] is False
    assert "Sysctls" not in out and "Tmpfs" not in out  # omitempty in Go
    assert HostConfig.from_json(out) == h
    c = ContainerConfig.from_json({"Cmd": ["sh"], "Entrypoint": [], "Labels": {"x": "y"}})
    cj = c.to_json()
    assert cj["Entrypoint"] == [] and cj["Env"] is None and cj["Volumes"] is None
    assert "ExposedPorts" not in cj and "Healthcheck" not in cj
    assert ContainerConfig.from_json(cj) == c


# -- merge with the image ---------------------------------------------------------------------


IMAGE = ImageCC(
    entrypoint=("/entry",),
    cmd=("default", "args"),
    env=("PATH=/usr/bin:/bin", "A=image", "B=image"),
    working_dir="/srv",
    user="nobody",
    labels={"l1": "image", "l2": "image"},
    exposed_ports=("80/tcp",),
    volumes=("/data",),
    stop_signal="SIGQUIT",
)


@pytest.mark.parametrize(
    ("entrypoint", "cmd", "image_ep", "image_cmd", "expected_ep", "expected_cmd"),
    [
        # nothing given: the image's both
        (None, None, ("/entry",), ("a",), ("/entry",), ("a",)),
        # Cmd given, no Entrypoint: the image's Entrypoint is kept
        (None, ("x",), ("/entry",), ("a",), ("/entry",), ("x",)),
        # Entrypoint given, no Cmd: the image's Cmd is reset
        (("/ep",), None, ("/entry",), ("a",), ("/ep",), None),
        # both given
        (("/ep",), ("x",), ("/entry",), ("a",), ("/ep",), ("x",)),
        # Entrypoint [] clears the image's entrypoint, and the image Cmd stays
        ((), None, ("/entry",), ("a",), (), ("a",)),
        # --entrypoint "": cleared, the image Cmd is not taken
        (("",), ("x",), ("/entry",), ("a",), (), ("x",)),
        # image without entrypoint
        (None, None, None, ("sh",), None, ("sh",)),
        (None, ("echo", "hi"), None, ("sh",), None, ("echo", "hi")),
    ],
)
def test_entrypoint_cmd_merge(
    entrypoint: tuple[str, ...] | None,
    cmd: tuple[str, ...] | None,
    image_ep: tuple[str, ...] | None,
    image_cmd: tuple[str, ...] | None,
    expected_ep: tuple[str, ...] | None,
    expected_cmd: tuple[str, ...] | None,
) -> None:
    image = ImageCC(entrypoint=image_ep, cmd=image_cmd)
    merged = merge_image_config(ContainerConfig(entrypoint=entrypoint, cmd=cmd), image)
    assert (merged.entrypoint, merged.cmd) == (expected_ep, expected_cmd)
    # merging again changes nothing (the engine may store the merged config)
    assert merge_image_config(merged, image) == merged


def test_merge_fills_the_rest_from_the_image() -> None:
    cfg = ContainerConfig(
        env=("A=request", "C=request"),
        labels={"l1": "request"},
        exposed_ports=("443/tcp",),
    )
    m = merge_image_config(cfg, IMAGE)
    assert m.env == ("A=request", "C=request", "PATH=/usr/bin:/bin", "B=image")
    assert m.labels == {"l1": "request", "l2": "image"}
    assert m.exposed_ports == ("443/tcp", "80/tcp")
    assert m.working_dir == "/srv" and m.user == "nobody" and m.stop_signal == "SIGQUIT"
    assert m.volumes == ("/data",)
    assert merge_image_config(ContainerConfig(user="0", working_dir="/w"), IMAGE).user == "0"


def test_merge_healthcheck_field_by_field() -> None:
    image = ImageCC(healthcheck=ImageHealth(test=("CMD", "true"), interval=30, retries=3))
    m = merge_image_config(ContainerConfig.from_json({"Healthcheck": {"Interval": 5}}), image)
    assert m.healthcheck is not None
    assert (m.healthcheck.test, m.healthcheck.interval, m.healthcheck.retries) == (
        ("CMD", "true"),
        5,
        3,
    )


# -- daemon defaults -----------------------------------------------------------------------


def test_create_defaults() -> None:
    h = with_create_defaults(HostConfig(memory=64 << 20), cgroup_v2=True)
    assert h.memory_swap == 128 << 20 and h.shm_size == 64 << 20
    assert (h.ipc_mode, h.cgroupns_mode, h.network_mode) == ("private", "private", "default")
    assert h.log_config == LogConfig("json-file", {}) and h.restart_policy.name == "no"
    assert h.runtime == "runc" and h.masked_paths and "/proc/kcore" in h.masked_paths
    assert h.readonly_paths == (
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    )
    assert with_create_defaults(HostConfig(), cgroup_v2=False).cgroupns_mode == "host"
    p = with_create_defaults(HostConfig(privileged=True), cgroup_v2=False)
    assert p.masked_paths is None and p.readonly_paths is None
    assert (
        with_create_defaults(HostConfig(memory_swappiness=-1), cgroup_v2=False).memory_swappiness
        is None
    )


# -- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ({"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
        ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, "Minimum memoryswap limit should be larger"),
        ({"MemorySwap": 64 << 20}, "You should always set the Memory limit"),
        ({"MemoryReservation": 1 << 20}, "Minimum memory reservation allowed is 6MB"),
        (
            {"Memory": 8 << 20, "MemoryReservation": 16 << 20},
            "can not be less than memory reservation",
        ),
        ({"MemorySwappiness": 101}, "valid memory swappiness range is 0-100"),
        (
            {"NanoCpus": 500_000_000, "CpuPeriod": 100000},
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            {"NanoCpus": 500_000_000, "CpuQuota": 50000},
            "Conflicting options: Nano CPUs and CPU Quota",
        ),
        (
            {"NanoCpus": 5_000_000_000},
            "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs",
        ),
        ({"CpuPeriod": 10}, "CPU cfs period can not be less than 1ms"),
        ({"CpuQuota": 10}, "CPU cfs quota can not be less than 1ms"),
        ({"CpusetCpus": "0-"}, "Invalid value 0- for cpuset cpus"),
        ({"CpusetCpus": "3-1"}, "Invalid value 3-1 for cpuset cpus"),
        ({"CpusetCpus": "0,5"}, "Requested CPUs are not available - requested 0,5, available: 0-1"),
        ({"CpusetMems": "x"}, "Invalid value x for cpuset mems"),
        ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
        ({"OomScoreAdj": 1001}, "range for oom score adj is [-1000, 1000]"),
        (
            {"RestartPolicy": {"Name": "sometimes"}},
            "invalid restart policy: unknown policy 'sometimes'",
        ),
        (
            {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}},
            "can only be used with 'on-failure'",
        ),
        ({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}, "cannot be negative"),
        (
            {"AutoRemove": True, "RestartPolicy": {"Name": "always"}},
            "can't create 'AutoRemove' container with restart policy",
        ),
        ({"CapAdd": ["FOO"]}, 'unknown capability: "CAP_FOO"'),
        ({"CapDrop": ["cap_bogus"]}, 'unknown capability: "CAP_BOGUS"'),
        ({"PortBindings": {"80000/tcp": []}}, 'invalid port specification: "80000"'),
        ({"PortBindings": {"80/tcp": [{"HostPort": "abc"}]}}, 'invalid port specification: "abc"'),
        ({"PortBindings": {"80/xyz": []}}, 'invalid proto: "xyz"'),
        ({"ShmSize": -1}, "SHM size can not be less than 0"),
        ({"IpcMode": "weird"}, "invalid IPC mode: weird"),
        ({"Mounts": [{"Type": "nfs", "Target": "/x"}]}, 'invalid mount config for type "nfs"'),
        ({"Tmpfs": {"run": ""}}, "mount path must be absolute"),
    ],
)
def test_validation_refuses(host: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        validate(ContainerConfig(), HostConfig.from_json(host), ncpu=2)
    assert message in str(err.value)


def test_validation_of_config() -> None:
    with pytest.raises(InvalidArgument, match="needs to be an absolute path"):
        validate(ContainerConfig(working_dir="srv"), HostConfig())
    with pytest.raises(InvalidArgument, match="Interval in Healthcheck cannot be less than 1ms"):
        validate(ContainerConfig.from_json({"Healthcheck": {"Interval": 5}}), HostConfig())
    with pytest.raises(InvalidArgument, match='invalid port specification: "x"'):
        validate(ContainerConfig(exposed_ports=("x/tcp",)), HostConfig())


def test_validation_accepts_docker_run_defaults() -> None:
    host = HostConfig.from_json(
        {
            "Memory": 6 << 20,
            "MemorySwap": -1,
            "MemorySwappiness": -1,
            "NanoCpus": 500_000_000,
            "CpusetCpus": "0-1",
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
            "CapAdd": ["ALL", "sys_admin", "CAP_NET_ADMIN"],
            "PortBindings": {"80/tcp": [{"HostPort": "8000-8010"}], "53/udp": None},
            "AutoRemove": True,
        }
    )
    with pytest.raises(InvalidArgument):  # --rm with a restart policy
        validate(ContainerConfig(), host, ncpu=2)
    validate(
        ContainerConfig(), HostConfig.from_json({**host.to_json(), "AutoRemove": False}), ncpu=2
    )


def test_normalize_capabilities() -> None:
    assert normalize_capabilities(["all", "net_admin", "CAP_SYS_ADMIN", "Chown"]) == [
        "ALL",
        "CAP_NET_ADMIN",
        "CAP_SYS_ADMIN",
        "CAP_CHOWN",
    ]


def test_parse_uint_list() -> None:
    assert parse_uint_list("0-2,4", "cpuset cpus") == {0, 1, 2, 4}
    assert parse_uint_list("", "cpuset cpus") == set()
