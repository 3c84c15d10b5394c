"""The seed truth table on QEMU 5.2 (qemu-system@bullseye): every cell agrees; reopens use x-blockdev-reopen.

5.2 already has 4.0's dynamic auto-read-only: on a read-only mount or an unwritable file a file
node with auto-read-only on opens read-only yet reports ro false, and a writer's reopen fails.
About 1 s per storage; qsd@bullseye runs the same table under `qconform run`.
"""

from __future__ import annotations

import pytest

from block.conftest import assert_cells
from block.container_impls import table_implementation
from conformance.block.fixture import BlockFixture
from conformance.block.tables import seed_group
from conformance.divergences import load_divergences

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", ["writable", "read-only-mount", "unprivileged"])
def test_seed_truth_table_on_5_2(kind: str, seed: BlockFixture) -> None:
    impl = table_implementation("qemu-system@bullseye")
    records = [r.explain(load_divergences()) for r in seed_group(impl, seed, kind)]
    assert_cells(records, 27)
    reopened = [r for r in records if any('"x-blockdev-reopen"' in line for line in r.reproducer)]
    assert reopened, "the reopen columns went through x-blockdev-reopen"
