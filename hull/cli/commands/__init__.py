"""One module per verb: ``add_parser(subparsers)`` and ``run(args, client) -> int``.

``VERBS`` lists them with their one-line help so that ``hull --help`` needs
no import; ``hull VERB`` imports only that verb's module, ``module_for(VERB)``
(``import`` lives in ``import_``, a keyword being no module name).
"""

from __future__ import annotations

VERBS: dict[str, str] = {
    "attach": "Attach local standard input, output, and error streams to a running container",
    "bootstrap": "Build an offline base image (busybox, debian) and import it",
    "build": "Build an image from a Dockerfile",
    "builder": "Manage builds",
    "commit": "Create a new image from a container's changes",
    "container": "Manage containers",
    "cp": "Copy files/folders between a container and the local filesystem",
    "create": "Create a new container",
    "diff": "Inspect changes to files or directories on a container's filesystem",
    "events": "Get real time events from the server",
    "exec": "Run a command in a running container",
    "export": "Export a container's filesystem as a tar archive",
    "history": "Show the history of an image",
    "image": "Manage images",
    "images": "List images",
    "import": "Import the contents from a tarball to create a filesystem image",
    "info": "Display system-wide information",
    "inspect": "Return low-level information on hull objects",
    "kill": "Kill one or more running containers",
    "load": "Load an image from a tar archive or STDIN",
    "login": "Log in to a registry",
    "logout": "Log out from a registry",
    "logs": "Fetch the logs of a container",
    "network": "Manage networks",
    "pause": "Pause all processes within one or more containers",
    "port": "List port mappings or a specific mapping for the container",
    "ps": "List containers",
    "pull": "Download an image from a registry",
    "push": "Upload an image to a registry",
    "registry": "Run an OCI distribution registry server (serve, gc)",
    "rename": "Rename a container",
    "restart": "Restart one or more containers",
    "rm": "Remove one or more containers",
    "rmi": "Remove one or more images",
    "run": "Run a command in a new container",
    "save": "Save one or more images to a tar archive (streamed to STDOUT by default)",
    "search": "Search a registry for images",
    "start": "Start one or more stopped containers",
    "stats": "Display a live stream of container(s) resource usage statistics",
    "stop": "Stop one or more running containers",
    "system": "Manage hull",
    "tag": "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    "top": "Display the running processes of a container",
    "unpause": "Unpause all processes within one or more containers",
    "update": "Update configuration of one or more containers",
    "version": "Show the hull version information",
    "volume": "Manage volumes",
    "wait": "Block until one or more containers stop, then print their exit codes",
}

# verbs whose module is not named after them
_MODULES = {"import": "import_", "exec": "exec_"}


def module_for(verb: str) -> str:
    """The module that implements ``verb``."""
    return f"hull.cli.commands.{_MODULES.get(verb, verb)}"


__all__ = ["VERBS", "module_for"]
