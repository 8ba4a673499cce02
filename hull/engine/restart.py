"""Restart policies, decided as moby's ``restartmanager`` does.

Policies: ``no`` (or empty), ``always``, ``unless-stopped`` and
``on-failure[:N]`` (N = 0: no limit). After an exit the engine asks
:meth:`Backoff.next` whether to restart and after how long: the delay starts
at 100 ms and doubles with each restart up to one minute, and falls back to
100 ms when the container had run for 10 s or more. A container stopped or
killed by the user (``manually_stopped``) is never restarted, whatever its
policy; ``docker start`` clears that and resets the restart count.

At daemon start (``recover``), Docker restarts ``always`` containers,
even those the user stopped, ``unless-stopped`` ones that were not stopped
by the user, and (as hull
also does) ``on-failure`` ones whose last exit was a failure within their
retry budget: :func:`restart_at_daemon_start`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hull.errors import InvalidArgument

DEFAULT_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0
POLICIES = ("no", "always", "on-failure", "unless-stopped")


@dataclass(frozen=True)
class Policy:
    """A restart policy: its name and, for ``on-failure``, the retry limit (0: none)."""

    name: str = "no"
    maximum_retry_count: int = 0

    @classmethod
    def parse(cls, text: str) -> Policy:
        """``"on-failure:3"`` and friends, as ``docker run --restart`` takes them."""
        name, _, count = text.partition(":")
        if name == "":
            name = "no"
        if name not in POLICIES:
            raise InvalidArgument(f"invalid restart policy '{name}'")
        if count and name != "on-failure":
            raise InvalidArgument(f"restart count format is not valid, usage: {text}")
        try:
            n = int(count) if count else 0
        except ValueError:
            raise InvalidArgument(f"restart count format is not valid, usage: {text}") from None
        return cls(name, n)

    @property
    def is_none(self) -> bool:
        return self.name in ("", "no")


def wants_restart(
    policy: Policy, exit_code: int, restart_count: int, manually_stopped: bool
) -> bool:
    """Whether a container that exited with ``exit_code`` is to be restarted."""
    if manually_stopped or policy.is_none:
        return False
    if policy.name == "always":
        return True
    if policy.name == "unless-stopped":
        return True
    if policy.name == "on-failure":
        limit = policy.maximum_retry_count
        return exit_code != 0 and (limit <= 0 or restart_count < limit)
    return False


@dataclass
class Backoff:
    """The restart delay of one container (moby's ``RestartManager.timeout``)."""

    delay: float = 0.0

    def next(self, ran_for: float) -> float:
        """The delay before the next restart, given how long the last run lasted."""
        if ran_for >= RESET_AFTER:
            self.delay = 0.0
        if self.delay == 0.0:
            self.delay = DEFAULT_DELAY
        elif self.delay < MAX_DELAY:
            self.delay *= 2
        self.delay = min(self.delay, MAX_DELAY)
        return self.delay

    def reset(self) -> None:
        self.delay = 0.0


def restart_at_daemon_start(
    policy: Policy, exit_code: int, restart_count: int, manually_stopped: bool
) -> bool:
    """Whether a container found stopped at daemon start is started again.

    Docker's documented rule: ``always`` comes back even after a manual stop,
    ``unless-stopped`` only if the user did not stop it.
    """
    if policy.name == "always":
        return True
    return wants_restart(policy, exit_code, restart_count, manually_stopped)


__all__ = [
    "DEFAULT_DELAY",
    "MAX_DELAY",
    "POLICIES",
    "RESET_AFTER",
    "Backoff",
    "Policy",
    "restart_at_daemon_start",
    "wants_restart",
]
