"""What the volume routes share: the volume manager off the loop (no monitor needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ..http import Request

if TYPE_CHECKING:
    from hull.engine.volumes import VolumeManager

T = TypeVar("T")


async def volumes_call(req: Request, fn: Callable[[VolumeManager], T]) -> T:
    """``fn(the volume manager)`` in a worker thread."""
    app = req.app
    return await asyncio.to_thread(lambda: fn(app.volumes))


__all__ = ["volumes_call"]
