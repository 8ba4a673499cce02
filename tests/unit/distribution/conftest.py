"""Fixtures: our registry in-process, image stores on temp roots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hull.images import ImageService
from tests.unit.distribution.helpers import store
from tests.unit.registry.regserver import RunningRegistry


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[RunningRegistry]:
    r = RunningRegistry(tmp_path / "registry")
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def src(tmp_path: Path) -> Iterator[ImageService]:
    s = store(tmp_path / "src")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def dst(tmp_path: Path) -> Iterator[ImageService]:
    s = store(tmp_path / "dst")
    try:
        yield s
    finally:
        s.close()
