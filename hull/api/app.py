"""What every route can reach: the configuration, the event bus, the images, the engine's figures.

Routes get the ``App`` as ``request.app``. ``App.images`` is the daemon's one
``ImageService`` on ``<data-root>``, opened on first use (its SQLite database
keeps one connection per thread, so routes call it from worker threads with
``asyncio.to_thread``). The engine plugs in through ``Inventory`` (counts of
containers and images, the storage driver) and ``image_users`` (which
containers use an image, for ``rmi``, prune and ``system df``); until it
does, ``ImageInventory`` counts the images and no container uses any.

``App.engine`` is the container engine (:class:`hull.engine.Engine`) on the
same data root, exec root and runtimes, publishing its container events to
the bus. It is opened on first use (or by ``Daemon.start`` when a previous
daemon left containers or a running monitor behind) because opening it
starts the container monitor, a detached process that outlives hulld by
design. Once it exists, ``App.images`` is the engine's own image service,
and ``image_users`` / the ``/info`` counts come from the one database.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .config import Config
from .events import EventBus
from .router import Router

if TYPE_CHECKING:
    from hull.engine.engine import Engine
    from hull.engine.volumes import VolumeManager
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

        db = self._app.images.db
        running = paused = stopped = 0
        for rec in md.list_containers(db):
            if rec.state.get("Paused"):
                paused += 1
            elif rec.state.get("Running"):
                running += 1
            else:
                stopped += 1
        # every image, intermediate ones included, as dockerd's CountImages
        return Counts(running, paused, stopped, images=len(md.list_images(db)))

    def storage_driver(self) -> tuple[str, list[list[str]]]:
        return self._app.images.snapshots.driver, []


def _no_users(image_id: str) -> Sequence[UsedBy]:
    return ()


def resolve_runtime(path: str) -> str:
    """A runtime given by bare name: beside ``sys.argv[0]``, beside Python, or on PATH."""
    if "/" in path:
        return path
    bases = []
    if sys.argv and sys.argv[0] not in ("", "-c", "-m"):
        bases.append(Path(sys.argv[0]).resolve().parent)
    bases.append(Path(sys.executable).parent)
    for base in bases:
        cand = base / path
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    return shutil.which(path) or path


def resolve_runtimes(runtimes: Mapping[str, str]) -> dict[str, str]:
    """``--add-runtime`` and the built-in runtimes with bare names made paths."""
    return {name: resolve_runtime(path) for name, path in runtimes.items()}


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
    _engine: Engine | None = field(default=None, repr=False)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _replaced: list[ImageService] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.image_users is _no_users:
            self.image_users = self._db_image_users

    def _db_image_users(self, image_id: str) -> Sequence[UsedBy]:
        from hull.images.removal import image_users

        return image_users(self.images.db, image_id)

    def get_inventory(self) -> Inventory:
        if self.inventory is None:
            self.inventory = ImageInventory(self)
        return self.inventory

    @property
    def has_engine(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> Engine:
        """The container engine, opened (and its monitor started) on first use; blocking."""
        with self._engine_lock:
            if self._engine is None:
                from hull.engine.engine import Engine

                cfg = self.config
                bus = self.events

                def sink(type: str, action: str, actor: str, attrs: Mapping[str, str]) -> None:
                    bus.publish(type, action, actor, attrs)

                eng = Engine(
                    cfg.data_root,
                    cfg.exec_root,
                    runtimes=resolve_runtimes(cfg.runtimes),
                    default_runtime=cfg.default_runtime,
                    events=sink,
                    watch=True,
                )
                with self._images_lock:
                    if self._images is not None:
                        # requests in flight may still use it: closed at App.close
                        self._replaced.append(self._images)
                    self._images = eng.images
                self._engine = eng
                eng.recover()
            return self._engine

    @property
    def volumes(self) -> VolumeManager:
        """The volumes (the engine's manager if it is open; the monitor is not needed)."""
        if self._engine is not None:
            return self._engine.volumes
        from hull.engine.volumes import VolumeManager

        return VolumeManager(self.config.data_root, self.images.db)

    def wants_engine_at_start(self) -> bool:
        """Whether a previous daemon left containers or a running monitor to reconcile."""
        cdir = self.config.data_root / "containers"
        try:
            if any(cdir.iterdir()):
                return True
        except OSError:
            pass
        return (self.config.exec_root / "monitor" / "monitor.sock").exists()

    @property
    def images(self) -> ImageService:
        """The image store on ``<data-root>``, opened on first use (blocking: call off the loop)."""
        with self._images_lock:
            if self._images is None:
                from hull.images import ImageService

                self._images = ImageService(self.config.data_root)
            return self._images

    def close(self) -> None:
        """Close what was opened on demand (the engine's watcher, the image store's database)."""
        with self._engine_lock:
            eng, self._engine = self._engine, None
        with self._images_lock:
            if eng is not None:
                eng.close()  # closes eng.images too
            elif self._images is not None:
                self._images.close()
            self._images = None
            for svc in self._replaced:
                svc.close()
            self._replaced.clear()


__all__ = [
    "App",
    "Counts",
    "EmptyInventory",
    "ImageInventory",
    "ImageUsers",
    "Inventory",
    "resolve_runtime",
    "resolve_runtimes",
]
