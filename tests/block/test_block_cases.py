"""fixtures/block step cases on real binaries: each reply as the oracle predicts it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from block.conftest import StorageView, real_implementation
from block.fixture import load, with_paths
from block.session import Session

pytestmark = pytest.mark.slow
CASES = load().cases


@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_block_case(impl_name: str, case: object, storage: Callable[[str], StorageView]) -> None:
    from block.fixture import StepCase

    assert isinstance(case, StepCase)
    impl = real_implementation(impl_name)
    view = storage(case.storage)
    session = Session(view.implementation(impl), view.facts)
    try:
        steps = [session.run(with_paths(command, view.paths)) for command in case.steps]
    finally:
        session.close()
    wrong = [step for step in steps if not step.agrees]
    assert not wrong, "\n".join(step.describe() for step in wrong)
