"""Fixtures: an in-process registry on a temp root, closed after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.registry.regserver import RunningRegistry


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[RunningRegistry]:
    r = RunningRegistry(tmp_path / "root")
    try:
        yield r
    finally:
        r.close()
