"""The seed's cells on the command line (qsd --blockdev, qemu-system -blockdev and -drive) on real
binaries, one test per implementation x front end x storage: every cell agrees with the oracle,
HMP `info block -n` and `info block` included on qemu-system."""

from __future__ import annotations

import pytest

from block.conftest import assert_cells, real_implementation
from conformance.block.fixture import BlockFixture
from conformance.block.records import HMP_STEPS, NOT_APPLICABLE
from conformance.block.tables import front_end_group
from conformance.divergences import load_divergences

pytestmark = pytest.mark.slow
FRONT_ENDS = [("qsd", "--blockdev"), ("qemu-system", "-blockdev"), ("qemu-system", "-drive")]


@pytest.mark.parametrize("kind", ["writable", "read-only-mount", "unprivileged"])
@pytest.mark.parametrize(("impl_name", "front_end"), FRONT_ENDS, ids=[f"{i}{f}" for i, f in FRONT_ENDS])
def test_front_end_table(impl_name: str, front_end: str, kind: str, seed: BlockFixture) -> None:
    impl = real_implementation(impl_name)
    known = load_divergences()
    records = [r.explain(known) for r in front_end_group(impl, seed, kind, front_end)]
    assert_cells(records, 27)
    # Each cell whose node opened read HMP info block (iotest 232's check), except on qsd, which has no HMP.
    ran = [r.steps[label] for r in records if r.steps for label in HMP_STEPS]
    assert ran, "no cell opened its node"
    assert all((text == NOT_APPLICABLE) == (impl_name == "qsd") for text in ran), ran
