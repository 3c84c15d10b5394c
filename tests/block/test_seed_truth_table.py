"""The seed's truth table on real binaries: every cell must agree with the oracle.

QCONFORM_BLOCK_TABLE=DIR writes each implementation's table to DIR/seed-truth-table-IMPL.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from block.conftest import StorageView, real_implementation
from block.fixture import BlockFixture
from block.seed_table import Outcome, cells, render_markdown, run_cell
from block.session import Session

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
def test_seed_truth_table(impl_name: str, seed: BlockFixture, storage: Callable[[str], StorageView]) -> None:
    impl = real_implementation(impl_name)
    outcomes: list[Outcome] = []
    for kind in seed.table["storages"]:
        view = storage(kind)
        session = Session(view.implementation(impl), view.facts)
        try:
            for index, cell in enumerate(cells(seed.table, kind)):
                outcomes.append(run_cell(session, cell, index, view.paths))
        finally:
            session.close()
    table = render_markdown(outcomes)
    target = os.environ.get("QCONFORM_BLOCK_TABLE")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / f"seed-truth-table-{impl_name}.md").write_text(table, encoding="utf-8")
    disagreements = [o for o in outcomes if not o.agrees]
    details = "\n".join(
        step.describe() for o in disagreements for step in (o.add, o.query) if not step.agrees
    )
    assert not disagreements, f"{len(disagreements)} cells disagree:\n{details}\n\n{table}"
    assert len(outcomes) == 81


def test_table_renders_every_cell(seed: BlockFixture) -> None:
    # Without binaries: the dimensions give 27 rows of 3 storages.
    assert len(list(cells(seed.table, "writable"))) == 27
