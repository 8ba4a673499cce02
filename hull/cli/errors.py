"""How the CLI reports failures and which exit code it returns, as the docker CLI.

0    success
1    the daemon answered with an error ("Error response from daemon: ...")
     or cannot be reached
64   a --format template that does not parse
125  a usage error (unknown flag, bad value), or any daemon error of a
     ``run``-like command, whose own exit codes 126/127 and the
     container's status take the others
"""

from __future__ import annotations

import sys

from hull.errors import HullError, Unauthorized, Unavailable

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_TEMPLATE = 64
EXIT_USAGE = 125


class UsageError(Exception):
    """A command line the CLI refuses; printed with "See 'hull VERB --help'."."""

    def __init__(self, message: str, prog: str = "hull") -> None:
        super().__init__(message)
        self.message = message
        self.prog = prog


def daemon_message(exc: HullError) -> str:
    """The line docker prints: connection failures bare, daemon errors prefixed."""
    if isinstance(exc, Unavailable | Unauthorized) and (
        exc.message.startswith("Cannot connect") or exc.message.startswith("permission denied")
    ):
        return exc.message
    return f"Error response from daemon: {exc.message}"


def report(exc: BaseException, run_like: bool = False) -> int:
    """Print ``exc`` the docker way on stderr; the exit code to return."""
    if isinstance(exc, UsageError):
        print(f"{exc.message}\nSee '{exc.prog} --help'.", file=sys.stderr)
        return EXIT_USAGE
    # a template error can only come from gofmt, so it is imported only if loaded
    gofmt = sys.modules.get("hull.cli.gofmt")
    if gofmt is not None and isinstance(exc, gofmt.TemplateError):
        if exc.parse:
            print(f"template parsing error: {exc}", file=sys.stderr)
            return EXIT_TEMPLATE
        print(f"template: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if isinstance(exc, HullError):
        print(daemon_message(exc), file=sys.stderr)
        return EXIT_USAGE if run_like else EXIT_ERROR
    raise exc


def report_run(exc: BaseException) -> int:
    """``report`` for run/create/start-like verbs: daemon errors exit 125."""
    return report(exc, run_like=True)


__all__ = [
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_TEMPLATE",
    "EXIT_USAGE",
    "UsageError",
    "daemon_message",
    "report",
    "report_run",
]
