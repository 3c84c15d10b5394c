"""The seed's truth table on real binaries, one test per implementation x storage: every cell agrees.

The container QEMUs (10.0 in trixie, 11.1 in sid) see the storage view's folder bind-mounted at the
same path, read-only for the read-only mount, and run as uid 65534 for "unprivileged"; about 3 s per
storage each. qsd@bookworm and qemu-system@SUITE run only under `qconform run`.
"""

from __future__ import annotations

import pytest

from block.conftest import assert_cells
from block.container_impls import table_implementation
from conformance.block.fixture import BlockFixture
from conformance.block.seed_table import cells
from conformance.block.tables import seed_group
from conformance.divergences import load_divergences

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", ["writable", "read-only-mount", "unprivileged"])
@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system", "qsd@trixie", "qsd@sid"])
def test_seed_truth_table(impl_name: str, kind: str, seed: BlockFixture) -> None:
    impl = table_implementation(impl_name)
    known = load_divergences()
    records = [r.explain(known) for r in seed_group(impl, seed, kind)]
    assert_cells(records, 27)


def test_table_dimensions(seed: BlockFixture) -> None:
    # Without binaries: 3 drivers x 3 read-only x 3 auto-read-only per storage, 3 storages.
    assert len(list(cells(seed.table, "writable"))) == 27
    assert seed.table["storages"] == ["writable", "read-only-mount", "unprivileged"]
