"""What fills a create request's gaps: the image's defaults and the daemon's.

``merge_image_config`` is moby's ``merge`` (an image's Cmd, Entrypoint, Env,
WorkingDir... where the request leaves them unset); ``with_create_defaults``
sets what the daemon decides at create (shm size, masked and read-only
paths, the default network), as dockerd does before it stores a container.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

from hull.engine.config import ContainerConfig, HealthConfig, HostConfig, LogConfig, RestartPolicy
from hull.oci.image_config import ContainerConfig as ImageContainerConfig


def _env_key(entry: str) -> str:
    return entry.split("=", 1)[0]


def merge_image_config(cfg: ContainerConfig, image: ImageContainerConfig) -> ContainerConfig:
    """The request with the image's defaults filled in (moby ``daemon/commit.go`` merge).

    The request's Env wins by key; a Cmd without an Entrypoint keeps the
    image's Entrypoint; an Entrypoint given resets the image's Cmd. An
    ``Entrypoint: [""]`` (``--entrypoint ""``) clears the entrypoint: it is
    stored as ``()``, not ``None``, so that merging again is a no-op.
    """
    user = cfg.user or image.user
    ports = cfg.exposed_ports
    if not ports:
        ports = image.exposed_ports or cfg.exposed_ports
    else:
        ports = ports + tuple(p for p in image.exposed_ports if p not in ports)
    env = cfg.env
    if not env:
        env = image.env if image.env is not None else env
    else:
        keys = {_env_key(e) for e in env}
        env = env + tuple(e for e in image.env or () if _env_key(e) not in keys)
    labels = dict(cfg.labels)
    for k, v in image.labels.items():
        labels.setdefault(k, v)
    cmd, entrypoint, escaped = cfg.cmd, cfg.entrypoint, cfg.args_escaped
    if not entrypoint:
        if not cmd:
            cmd, escaped = image.cmd, image.args_escaped
        if entrypoint is None:
            entrypoint = image.entrypoint
    if entrypoint == ("",):
        entrypoint = ()
    health = cfg.healthcheck
    ih = image.healthcheck
    if ih is not None:
        if health is None:
            health = HealthConfig(
                ih.test, ih.interval, ih.timeout, ih.start_period, ih.start_interval, ih.retries
            )
        else:
            health = HealthConfig(
                health.test or ih.test,
                health.interval or ih.interval,
                health.timeout or ih.timeout,
                health.start_period or ih.start_period,
                health.start_interval or ih.start_interval,
                health.retries or ih.retries,
            )
    volumes = cfg.volumes
    if not volumes:
        volumes = image.volumes or volumes
    else:
        volumes = volumes + tuple(v for v in image.volumes if v not in volumes)
    return dataclasses.replace(
        cfg,
        user=user,
        exposed_ports=ports,
        env=env,
        labels=labels,
        cmd=cmd,
        entrypoint=entrypoint,
        args_escaped=escaped,
        healthcheck=health,
        working_dir=cfg.working_dir or image.working_dir,
        volumes=volumes,
        stop_signal=cfg.stop_signal or image.stop_signal,
    )


DEFAULT_SHM_SIZE = 64 * 1024 * 1024

# oci/defaults.go: what Docker masks and makes read-only by default.
# Newer Docker also masks /proc/interrupts and each CPU's thermal_throttle
# (security advisories GHSA-6fw5-f8r9-fgfm, GHSA-jq35-85cj-fj4p).
DEFAULT_MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
)


def default_masked_paths() -> tuple[str, ...]:
    """Docker's masked paths on this host (with the CPUs' thermal_throttle dirs)."""
    extra = []
    try:
        cpus = sorted(
            int(n[3:]) for n in os.listdir("/sys/devices/system/cpu") if re.fullmatch(r"cpu\d+", n)
        )
    except OSError:
        cpus = []
    for cpu in cpus:
        path = f"/sys/devices/system/cpu/cpu{cpu}/thermal_throttle"
        if os.path.exists(path):
            extra.append(path)
    return DEFAULT_MASKED_PATHS + tuple(extra)


DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def with_create_defaults(
    host: HostConfig, *, cgroup_v2: bool, default_runtime: str = "runc"
) -> HostConfig:
    """What the daemon fills in at create, so inspect shows it (moby adaptContainerSettings)."""
    changes: dict[str, Any] = {}
    if host.memory > 0 and host.memory_swap == 0:
        changes["memory_swap"] = host.memory * 2  # Docker: swap defaults to memory's size
    if host.shm_size == 0:
        changes["shm_size"] = DEFAULT_SHM_SIZE
    if host.memory_swappiness == -1:
        changes["memory_swappiness"] = None  # -1 is the CLI's "unset"
    if not host.ipc_mode:
        changes["ipc_mode"] = "private"
    if not host.cgroupns_mode:
        changes["cgroupns_mode"] = "private" if cgroup_v2 else "host"
    if not host.network_mode:
        changes["network_mode"] = "default"
    if not host.log_config.type:
        changes["log_config"] = LogConfig("json-file", dict(host.log_config.config))
    if not host.restart_policy.name:
        changes["restart_policy"] = RestartPolicy("no", host.restart_policy.maximum_retry_count)
    if not host.runtime:
        changes["runtime"] = default_runtime
    if "systempaths=unconfined" in (host.security_opt or ()):
        changes["masked_paths"] = changes["readonly_paths"] = ()
    elif host.masked_paths is None and not host.privileged:
        changes["masked_paths"] = default_masked_paths()
    if host.readonly_paths is None and not host.privileged and "readonly_paths" not in changes:
        changes["readonly_paths"] = DEFAULT_READONLY_PATHS
    return dataclasses.replace(host, **changes) if changes else host


__all__ = [
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS",
    "DEFAULT_SHM_SIZE",
    "default_masked_paths",
    "merge_image_config",
    "with_create_defaults",
]
