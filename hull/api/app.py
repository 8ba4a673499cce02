"""What every route can reach: the configuration, the event bus, the engine's figures.

Routes get the ``App`` as ``request.app``. The engine plugs in through
``Inventory`` (counts of containers and images, the storage driver); until
it does, ``EmptyInventory`` reports an engine with nothing in it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from .config import Config
from .events import EventBus
from .router import Router


@dataclass(frozen=True)
class Counts:
    """Containers by state and images, for ``/info``."""

    running: int = 0
    paused: int = 0
    stopped: int = 0
    images: int = 0

    @property
    def containers(self) -> int:
        return self.running + self.paused + self.stopped


class Inventory(Protocol):
    """What the engine tells ``/info``."""

    def counts(self) -> Counts:
        """Containers by state and the number of images."""
        ...

    def storage_driver(self) -> tuple[str, list[list[str]]]:
        """(driver name, DriverStatus pairs)."""
        ...


class EmptyInventory:
    """An engine with no containers and no images (before the engine is wired in)."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def counts(self) -> Counts:
        return Counts()

    def storage_driver(self) -> tuple[str, list[list[str]]]:
        # the snapshotter records its backend at <data-root>/snapshots/driver
        # once the engine has opened it; before that there is none to report
        try:
            name = (self._config.data_root / "snapshots" / "driver").read_text().strip()
        except OSError:
            name = ""
        return name, []


@dataclass
class App:
    """The daemon's shared objects; one per ``Daemon``."""

    config: Config
    router: Router
    events: EventBus = field(default_factory=EventBus)
    inventory: Inventory | None = None
    started_ns: int = field(default_factory=time.time_ns)
    debug: bool = False

    def get_inventory(self) -> Inventory:
        if self.inventory is None:
            self.inventory = EmptyInventory(self.config)
        return self.inventory


__all__ = ["App", "Counts", "EmptyInventory", "Inventory"]
