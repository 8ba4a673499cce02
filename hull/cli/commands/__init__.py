"""One module per verb: ``add_parser(subparsers)`` and ``run(args, client) -> int``.

``VERBS`` lists them with their one-line help so that ``hull --help`` needs
no import; ``hull VERB`` imports only that verb's module.
"""

from __future__ import annotations

VERBS: dict[str, str] = {
    "events": "Get real time events from the server",
    "info": "Display system-wide information",
    "version": "Show the hull version information",
}

__all__ = ["VERBS"]
