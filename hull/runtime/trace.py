"""Opt-in timing marks for the runtime's hot path (``HULL_RUNTIME_TRACE=1``).

Each mark prints the monotonic time in ms, the pid and a label on stderr,
so a start can be broken down without strace (which distorts it).
"""

from __future__ import annotations

from hull.linux import fastos as os

ENABLED = bool(os.getenv("HULL_RUNTIME_TRACE"))


def mark(label: str) -> None:
    """Print a timing mark when tracing is on."""
    if ENABLED:
        import time

        now = time.clock_gettime(time.CLOCK_MONOTONIC) * 1000
        os.write(2, f"{now:.2f} {os.getpid()} {label}\n".encode())
