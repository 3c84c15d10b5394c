"""Real storage and real binaries for the block tests; the storage itself is conformance/block/views.py.

Views and mounts go in teardown, whatever the test did. Outside CI a missing
binary or missing root skips with the reason; under CI=true it fails.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from functools import cache

import pytest

from conformance.block.fixture import BlockFixture, load
from conformance.block.records import CellRecord
from conformance.block.views import StorageView, make_view, storage_unavailable
from conformance.implementations import Implementation, discover

__all__ = ["StorageView", "assert_cells", "real_implementation"]


@cache
def host_implementations() -> dict[str, Implementation]:
    found, _missing = discover()
    return {impl.name: impl for impl in found if impl.backend in ("host", "netns") and impl.binary}


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: every implementation must be present)", pytrace=False)
    pytest.skip(message)


def real_implementation(name: str) -> Implementation:
    reason = storage_unavailable()
    if reason is not None:
        _unavailable(reason)
    impl = host_implementations().get(name)
    if impl is None:
        _unavailable(f"{name} not found")
    assert impl is not None
    return impl


def assert_cells(records: list[CellRecord], expected_count: int) -> None:
    """Every cell agrees, or diverges as fixtures/divergences.json says (then it is an xfail)."""
    from conformance.pytest_plugin import record_block_cells

    record_block_cells(records)
    stale = [r.id for r in records if r.known and r.status == "pass"]
    assert not stale, f"recorded divergences no longer happen (remove them): {stale}"
    wrong = [r for r in records if r.status != "pass" and not r.known]
    details = "\n".join(f"{r.id}: {r.status}: predicted {r.predicted!r}, observed {r.observed!r}\n"
                        f"{r.detail}" for r in wrong)  # fmt: skip
    assert not wrong, f"{len(wrong)} of {len(records)} cells disagree:\n{details}"
    assert len(records) == expected_count
    known = [r for r in records if r.known]
    if known:
        pytest.xfail("; ".join(f"{r.id}: {r.known and r.known['reason']}" for r in known))


@pytest.fixture(scope="session")
def seed() -> BlockFixture:
    return load()


@pytest.fixture
def storage(seed: BlockFixture) -> Iterator[Callable[..., StorageView]]:
    """make(kind[, fixture]): a fresh storage view with the fixture's images (the seed's by default)."""
    with contextlib.ExitStack() as cleanup:

        def make(kind: str, fixture: BlockFixture = seed) -> StorageView:
            return make_view(cleanup, fixture, kind)

        yield make
