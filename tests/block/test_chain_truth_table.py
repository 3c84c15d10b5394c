"""The chain table (conformance/block/chain_table.py) on real binaries: every cell agrees with the oracle.

qsd@sid (QEMU 11.1, its images bind-mounted at the same path) runs here too, about 22 s; the other
container QEMUs run it only under `qconform run`.
"""

from __future__ import annotations

import pytest

from block.conftest import assert_cells
from block.container_impls import table_implementation
from conformance.block.chain_table import cells
from conformance.block.fixture import BLOCK_DIR, load
from conformance.block.tables import chain_cell
from conformance.divergences import load_divergences

pytestmark = pytest.mark.slow
CHAIN = load(BLOCK_DIR / "chain.json")


@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system", "qsd@sid"])
def test_chain_truth_table(impl_name: str) -> None:
    impl = table_implementation(impl_name)
    assert CHAIN.chain_table is not None
    known = load_divergences()
    records = [chain_cell(impl, CHAIN, cell).explain(known) for cell in cells(CHAIN.chain_table)]
    assert_cells(records, 18)


def test_chain_table_dimensions() -> None:
    assert CHAIN.chain_table is not None and len(list(cells(CHAIN.chain_table))) == 18
