"""The chain table (tests/block/chain_table.py) on real binaries: every cell must agree with the oracle.

QCONFORM_BLOCK_TABLE=DIR writes each implementation's table to DIR/chain-truth-table-IMPL.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from block.chain_table import Outcome, cells, render_markdown, run_cell
from block.conftest import StorageView, real_implementation
from block.fixture import BLOCK_DIR, load
from block.session import Session

pytestmark = pytest.mark.slow
CHAIN = load(BLOCK_DIR / "chain.json")


@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
def test_chain_truth_table(impl_name: str, storage: Callable[..., StorageView]) -> None:
    impl = real_implementation(impl_name)
    assert CHAIN.chain_table is not None
    mid = next(image for image in CHAIN.images if image["name"] == "mid")
    outcomes: list[Outcome] = []
    for cell in cells(CHAIN.chain_table):
        view = storage(cell.storage, CHAIN)  # fresh images: a commit writes the base
        session = Session(view.implementation(impl), view.facts)
        try:
            outcomes.append(run_cell(session, cell, view.paths, view.sources, mid["data"]))
        finally:
            session.close()
    table = render_markdown(outcomes)
    target = os.environ.get("QCONFORM_BLOCK_TABLE")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / f"chain-truth-table-{impl_name}.md").write_text(table, encoding="utf-8")
    wrong = [o for o in outcomes if not o.agrees]
    details = "\n".join(
        f"{o.cell}: data ok={o.data_ok}\n" + "\n".join(s.describe()[:1500] for s in o.steps if not s.agrees)
        for o in wrong
    )
    assert not wrong, f"{len(wrong)} cells disagree:\n{details}\n\n{table}"
    assert len(outcomes) == 18


def test_chain_table_dimensions() -> None:
    assert CHAIN.chain_table is not None and len(list(cells(CHAIN.chain_table))) == 18
