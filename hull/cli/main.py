"""``hull``: the command line, a client of hulld (or any Docker Engine API).

    hull [-H unix:///PATH] [-D] [--log-level LEVEL] VERB [ARGS]

The daemon is ``-H``, else ``$HULL_HOST``, else ``unix:///run/hull/hull.sock``;
at the default address a missing daemon is started (``autostart``).
Each verb lives in ``hull/cli/commands/<verb>.py`` and is imported only
when it runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from importlib import import_module

from hull import __version__

from .commands import VERBS, module_for
from .errors import EXIT_USAGE, report

# not typing.TYPE_CHECKING: importing typing costs ~2 ms of every command; mypy honours it
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

GLOBAL_WITH_VALUE = {"-H", "--host", "-l", "--log-level"}


def _formatter(prog: str) -> argparse.HelpFormatter:
    # argparse sizes help with shutil.get_terminal_size, and importing shutil
    # (bz2, lzma, fnmatch...) costs 2 ms of every command, help or not
    try:
        width = os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        width = 80
    return argparse.HelpFormatter(prog, width=max(width - 2, 40))


class Parser(argparse.ArgumentParser):
    """argparse that fails as the docker CLI: "unknown flag: --x", exit 125."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        m = re.match(r"unrecognized arguments: (\S+)", message)
        if m and m.group(1).startswith("-"):
            message = f"unknown flag: {m.group(1)}"
        print(f"{message}\nSee '{self.prog} --help'.", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def find_verb(argv: list[str]) -> str | None:
    """The first word that is not a global option or its value."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return argv[i + 1] if i + 1 < len(argv) else None
        if a in GLOBAL_WITH_VALUE:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        return a
    return None


def build_parser(verb: str | None) -> Parser:
    """The parser, with the full sub-parser of ``verb`` only."""
    p = Parser(prog="hull", description="A self-sufficient runtime for containers")
    p.add_argument("-H", "--host", help="daemon socket to connect to (env HULL_HOST)")
    p.add_argument("-D", "--debug", action="store_true", help="enable debug mode")
    p.add_argument(
        "-l",
        "--log-level",
        default="info",
        choices=["debug", "info", "warn", "error", "fatal"],
        help="set the logging level",
    )
    p.add_argument("-v", "--version", action="store_true", help="print version information")
    sub = p.add_subparsers(dest="verb", metavar="COMMAND", parser_class=Parser)
    if verb is not None:
        # only the verb's own parser: each of the ~50 others costs ~0.3 ms to make
        import_module(module_for(verb)).add_parser(sub)
        return p
    for name, summary in VERBS.items():
        sub.add_parser(name, help=summary, add_help=False)
    return p


def make_client(args: argparse.Namespace) -> Any:
    """The client for ``-H``/``$HULL_HOST``; at the default address, hulld started if needed."""
    from hull.client import Client
    from hull.client.transport import DEFAULT_HOST, parse_host

    explicit = args.host or os.environ.get("HULL_HOST")
    if not explicit:
        from .autostart import ensure_daemon

        ensure_daemon(parse_host(DEFAULT_HOST)[1])
    return Client(explicit or DEFAULT_HOST)


def main(argv: list[str] | None = None) -> int:
    """Parse, run the verb, report errors as docker does; the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    verb = find_verb(argv)
    if verb is not None and verb not in VERBS:
        print(f"hull: '{verb}' is not a hull command.\nSee 'hull --help'", file=sys.stderr)
        return 1
    parser = build_parser(verb)
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if extra:
        prog = f"hull {args.verb}" if args.verb else "hull"
        what = (
            f"unknown flag: {extra[0]}"
            if extra[0].startswith("-")
            else (f"'{prog}' accepts no argument {extra[0]!r}")
        )
        print(f"{what}\nSee '{prog} --help'.", file=sys.stderr)
        return EXIT_USAGE
    if args.version:
        print(f"hull version {__version__}")
        return 0
    if args.verb is None:
        parser.print_help()
        return 0
    level = "debug" if args.debug else args.log_level
    if level != "info":  # logging costs 5 ms to import: only when asked for
        import logging

        levels = {"warn": "WARNING", "fatal": "CRITICAL"}
        logging.basicConfig(level=levels.get(level, level.upper()))
    mod = import_module(module_for(args.verb))
    client = None
    try:
        if getattr(mod, "NEEDS_DAEMON", True):
            client = make_client(args)
        return int(mod.run(args, client))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        return report(exc)
    finally:
        if client is not None:
            client.close()


if __name__ == "__main__":
    sys.exit(main())
