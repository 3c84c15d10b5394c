"""The seed's truth table on real binaries, one test per implementation x storage: every cell agrees."""

from __future__ import annotations

import pytest

from block.conftest import assert_cells, real_implementation
from conformance.block.fixture import BlockFixture
from conformance.block.seed_table import cells
from conformance.block.tables import seed_group
from conformance.divergences import load_divergences

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", ["writable", "read-only-mount", "unprivileged"])
@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
def test_seed_truth_table(impl_name: str, kind: str, seed: BlockFixture) -> None:
    impl = real_implementation(impl_name)
    known = load_divergences()
    records = [r.explain(known) for r in seed_group(impl, seed, kind)]
    assert_cells(records, 27)


def test_table_dimensions(seed: BlockFixture) -> None:
    # Without binaries: 3 drivers x 3 read-only x 3 auto-read-only per storage, 3 storages.
    assert len(list(cells(seed.table, "writable"))) == 27
    assert seed.table["storages"] == ["writable", "read-only-mount", "unprivileged"]
