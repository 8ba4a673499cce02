"""What every route can reach: the configuration, the event bus, the images, the engine's figures.

Routes get the ``App`` as ``request.app``. ``App.images`` is the daemon's one
``ImageService`` on ``<data-root>``, opened on first use (its SQLite database
keeps one connection per thread, so routes call it from worker threads with
``asyncio.to_thread``). The engine plugs in through ``Inventory`` (counts of
containers and images, the storage driver) and ``image_users`` (which
containers use an image, for ``rmi``, prune and ``system df``); until it
does, ``ImageInventory`` counts the images and no container uses any.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .config import Config
from .events import EventBus
from .router import Router

if TYPE_CHECKING:
    from hull.images import ImageService, UsedBy

# image ID → the containers using it (the engine's answer; none before it exists)
ImageUsers = Callable[[str], "Sequence[UsedBy]"]


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


class ImageInventory(EmptyInventory):
    """No containers yet, and the images the daemon's image store holds."""

    def __init__(self, app: App) -> None:
        super().__init__(app.config)
        self._app = app

    def counts(self) -> Counts:
        from hull import metadata as md

        # every image, intermediate ones included, as dockerd's CountImages
        return Counts(images=len(md.list_images(self._app.images.db)))

    def storage_driver(self) -> tuple[str, list[list[str]]]:
        return self._app.images.snapshots.driver, []


def _no_users(image_id: str) -> Sequence[UsedBy]:
    return ()


@dataclass
class App:
    """The daemon's shared objects; one per ``Daemon``."""

    config: Config
    router: Router
    events: EventBus = field(default_factory=EventBus)
    inventory: Inventory | None = None
    started_ns: int = field(default_factory=time.time_ns)
    debug: bool = False
    image_users: ImageUsers = _no_users
    _images: ImageService | None = field(default=None, repr=False)
    _images_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get_inventory(self) -> Inventory:
        if self.inventory is None:
            self.inventory = ImageInventory(self)
        return self.inventory

    @property
    def images(self) -> ImageService:
        """The image store on ``<data-root>``, opened on first use (blocking: call off the loop)."""
        with self._images_lock:
            if self._images is None:
                from hull.images import ImageService

                self._images = ImageService(self.config.data_root)
            return self._images

    def close(self) -> None:
        """Close what was opened on demand (the image store's database)."""
        with self._images_lock:
            if self._images is not None:
                self._images.close()
                self._images = None


__all__ = ["App", "Counts", "EmptyInventory", "ImageInventory", "ImageUsers", "Inventory"]
