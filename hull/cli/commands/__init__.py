"""One module per verb: ``add_parser(subparsers)`` and ``run(args, client) -> int``.

``VERBS`` lists them with their one-line help so that ``hull --help`` needs
no import; ``hull VERB`` imports only that verb's module, ``module_for(VERB)``
(``import`` lives in ``import_``, a keyword being no module name).
"""

from __future__ import annotations

VERBS: dict[str, str] = {
    "bootstrap": "Build an offline base image (busybox, debian) and import it",
    "events": "Get real time events from the server",
    "history": "Show the history of an image",
    "image": "Manage images",
    "images": "List images",
    "import": "Import the contents from a tarball to create a filesystem image",
    "info": "Display system-wide information",
    "inspect": "Return low-level information on hull objects",
    "load": "Load an image from a tar archive or STDIN",
    "login": "Log in to a registry",
    "logout": "Log out from a registry",
    "pull": "Download an image from a registry",
    "push": "Upload an image to a registry",
    "registry": "Run an OCI distribution registry server (serve, gc)",
    "rmi": "Remove one or more images",
    "save": "Save one or more images to a tar archive (streamed to STDOUT by default)",
    "system": "Manage hull",
    "tag": "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
    "version": "Show the hull version information",
}

# verbs whose module is not named after them
_MODULES = {"import": "import_"}


def module_for(verb: str) -> str:
    """The module that implements ``verb``."""
    return f"hull.cli.commands.{_MODULES.get(verb, verb)}"


__all__ = ["VERBS", "module_for"]
