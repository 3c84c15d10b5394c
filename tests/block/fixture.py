"""The block fixtures' loader lives in the harness now (conformance/block/fixture.py)."""

from conformance.block.fixture import (
    BLOCK_DIR,
    REPO,
    SCHEMA,
    BlockFixture,
    StepCase,
    load,
    load_all,
    with_paths,
)
from conformance.block.views import STORAGES

__all__ = [
    "BLOCK_DIR",
    "REPO",
    "SCHEMA",
    "STORAGES",
    "BlockFixture",
    "StepCase",
    "load",
    "load_all",
    "with_paths",
]
