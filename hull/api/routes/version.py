"""``GET /version``: the engine's version in Docker's ``types.Version`` shape."""

from __future__ import annotations

import asyncio
from typing import Any

from hull import __version__

from .. import sysinfo
from ..http import Request, Response, json_response
from ..router import API_VERSION, MIN_API_VERSION

ROUTES = [("GET", "/version")]

PLATFORM_NAME = "hull"


def version_info(runtime_name: str, runtime_path: str) -> dict[str, Any]:
    """The document; ``GoVersion`` names the Python interpreter hull runs on."""
    details = {
        "ApiVersion": API_VERSION,
        "Arch": sysinfo.go_arch(),
        "BuildTime": sysinfo.build_time(),
        "Experimental": "false",
        "GitCommit": sysinfo.git_commit(),
        "GoVersion": sysinfo.python_version(),
        "KernelVersion": sysinfo.kernel_version(),
        "MinAPIVersion": MIN_API_VERSION,
        "Os": "linux",
    }
    components: list[dict[str, Any]] = [
        {"Name": "Engine", "Version": __version__, "Details": details}
    ]
    rt_version, rt_commit = sysinfo.runtime_version(runtime_path)
    if rt_version:
        components.append(
            {"Name": runtime_name, "Version": rt_version, "Details": {"GitCommit": rt_commit}}
        )
    return {
        "Platform": {"Name": PLATFORM_NAME},
        "Components": components,
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": details["GitCommit"],
        "GoVersion": details["GoVersion"],
        "Os": "linux",
        "Arch": details["Arch"],
        "KernelVersion": details["KernelVersion"],
        "BuildTime": details["BuildTime"],
    }


async def handle(req: Request) -> Response:
    cfg = req.app.config
    name = cfg.default_runtime
    # the runtime's --version is a subprocess, asked once per daemon (cached)
    doc = await asyncio.to_thread(version_info, name, cfg.runtimes.get(name, name))
    return json_response(doc)
