"""``GET /info``: the system-wide information ``docker info`` prints (``system.Info``)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from typing import Any

from hull import __version__

from .. import sysinfo
from ..app import App
from ..http import Request, Response, json_response

ROUTES = [("GET", "/info")]


def info_doc(app: App, tasks: int = 0) -> dict[str, Any]:
    """The document, in dockerd's field order for the fields hull can fill."""
    cfg = app.config
    inv = app.get_inventory()
    counts = inv.counts()
    driver, driver_status = inv.storage_driver()
    features = sysinfo.cgroup_features()
    cgroup_version = sysinfo.cgroup_version()
    warnings = []
    if not features["SwapLimit"]:
        warnings.append("WARNING: No swap limit support")
    return {
        "ID": sysinfo.engine_id(cfg.data_root),
        "Containers": counts.containers,
        "ContainersRunning": counts.running,
        "ContainersPaused": counts.paused,
        "ContainersStopped": counts.stopped,
        "Images": counts.images,
        "Driver": driver,
        "DriverStatus": driver_status,
        "Plugins": {
            "Volume": ["local"],
            "Network": ["host", "null"],
            "Authorization": None,
            "Log": ["json-file"],
        },
        "MemoryLimit": features["MemoryLimit"],
        "SwapLimit": features["SwapLimit"],
        "CpuCfsPeriod": features["CpuCfsPeriod"],
        "CpuCfsQuota": features["CpuCfsQuota"],
        "CPUShares": features["CPUShares"],
        "CPUSet": features["CPUSet"],
        "PidsLimit": features["PidsLimit"],
        "IPv4Forwarding": sysinfo.ip_forwarding(),
        "BridgeNfIptables": sysinfo.bridge_nf("ip"),
        "BridgeNfIp6tables": sysinfo.bridge_nf("ip6"),
        "Debug": app.debug,
        "NFd": sysinfo.open_fds(),
        "OomKillDisable": features["OomKillDisable"],
        "NGoroutines": tasks,  # the asyncio tasks of the daemon
        "SystemTime": sysinfo.rfc3339_nano(time.time_ns()),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": app.events.listeners,
        "KernelVersion": sysinfo.kernel_version(),
        "OperatingSystem": sysinfo.operating_system(),
        "OSVersion": sysinfo.os_release().get("VERSION_ID", ""),
        "OSType": "linux",
        "Architecture": os.uname().machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": None,
            "AllowNondistributableArtifactsHostnames": None,
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {
                "docker.io": {
                    "Name": "docker.io",
                    "Mirrors": [],
                    "Secure": True,
                    "Official": True,
                }
            },
            "Mirrors": None,
        },
        "NCPU": os.cpu_count() or 1,
        "MemTotal": sysinfo.mem_total(),
        "GenericResources": None,
        "DockerRootDir": str(cfg.data_root),
        "HttpProxy": os.environ.get("HTTP_PROXY", os.environ.get("http_proxy", "")),
        "HttpsProxy": os.environ.get("HTTPS_PROXY", os.environ.get("https_proxy", "")),
        "NoProxy": os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")),
        "Name": socket.gethostname(),
        "Labels": [],
        "ExperimentalBuild": False,
        "ServerVersion": __version__,
        "Runtimes": {name: {"path": path} for name, path in sorted(cfg.runtimes.items())},
        "DefaultRuntime": cfg.default_runtime,
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": False,
            "Error": "",
            "RemoteManagers": None,
        },
        "LiveRestoreEnabled": False,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": {"ID": "", "Expected": ""},
        "RuncCommit": {"ID": "", "Expected": ""},
        "InitCommit": {"ID": "", "Expected": ""},
        "SecurityOptions": ["name=seccomp,profile=builtin"]
        + (["name=cgroupns"] if cgroup_version == "2" else []),
        "Warnings": warnings,
    }


async def handle(req: Request) -> Response:
    # reads a handful of kernel files and maybe writes the engine id: off the loop
    tasks = len(asyncio.all_tasks())
    return json_response(await asyncio.to_thread(info_doc, req.app, tasks))
