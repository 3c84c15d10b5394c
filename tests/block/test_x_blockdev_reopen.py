"""x-blockdev-reopen on QEMU 5.2 (qemu-system@bullseye, qsd@bullseye): its fixture in fixtures/block/cases.

Each case's replies must be as the oracle's 5.2 profile predicts them. The host run of the same
file (tests/block/test_block_cases.py) checks that 7.2 has no such command. About 1 s a case.
"""

from __future__ import annotations

import contextlib

import pytest

from block.container_impls import container_implementation
from block.stateful.pool import PoolStorage
from conformance.block.fixture import BLOCK_DIR, BlockFixture, load, with_paths
from conformance.block.seed_table import nbd_socket
from conformance.block.session import Session
from conformance.block.views import make_view

pytestmark = pytest.mark.slow


def _fixture() -> BlockFixture:
    return load(BLOCK_DIR / "cases" / "x-blockdev-reopen.json")


@pytest.mark.parametrize("impl_name", ["qemu-system@bullseye", "qsd@bullseye"])
@pytest.mark.parametrize("case_id", [case.id for case in _fixture().cases])
def test_x_blockdev_reopen(impl_name: str, case_id: str) -> None:
    impl = container_implementation(impl_name, storage=True)
    fixture = _fixture()
    case = next(case for case in fixture.cases if case.id == case_id)
    with contextlib.ExitStack() as cleanup:
        view = make_view(cleanup, fixture, case.storage)
        session = Session(view.implementation(impl), PoolStorage(view.uid))
        try:
            paths = {**view.paths, "nbd-socket": nbd_socket(view.paths)}
            steps = [session.run(with_paths(command, paths)) for command in case.steps]
        finally:
            session.close()
    wrong = [step for step in steps if not step.agrees]
    assert not wrong, "\n".join(step.describe() for step in wrong)
