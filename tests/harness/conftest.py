"""Fixtures for the harness's own tests: fake implementations that are always reaped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.runner import InstancePool
from harness.support import FakeFarm


@pytest.fixture
def farm() -> Iterator[FakeFarm]:
    farm = FakeFarm()
    yield farm
    farm.stop_all()


@pytest.fixture
def pool(farm: FakeFarm) -> Iterator[InstancePool]:
    pool = InstancePool()
    yield pool
    pool.close()
