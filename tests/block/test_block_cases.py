"""fixtures/block step cases on real binaries: each reply as the oracle predicts it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from block.conftest import StorageView, real_implementation
from conformance.block.fixture import BlockFixture, StepCase, load_all, with_paths
from conformance.block.session import Session

pytestmark = pytest.mark.slow
CASES: list[tuple[BlockFixture, StepCase]] = [(fx, case) for fx in load_all() for case in fx.cases]


@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
@pytest.mark.parametrize("entry", CASES, ids=[case.id for _fx, case in CASES])
def test_block_case(
    impl_name: str, entry: tuple[BlockFixture, StepCase], storage: Callable[..., StorageView]
) -> None:
    fixture, case = entry
    impl = real_implementation(impl_name)
    view = storage(case.storage, fixture)
    session = Session(view.implementation(impl), view.facts)
    try:
        steps = [session.run(with_paths(command, view.paths)) for command in case.steps]
    finally:
        session.close()
    wrong = [step for step in steps if not step.agrees]
    assert not wrong, "\n".join(step.describe() for step in wrong)
