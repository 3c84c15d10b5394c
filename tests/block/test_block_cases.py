"""fixtures/block step cases on real binaries: each reply (and event) as the oracle predicts it.

fixtures/block/regressions.json holds the transcripts of oracle bugs found by
the stateful test and the active commit's job commands; an active commit
needs allocation facts, so the storage answers qemu-img map too. "@nbd-socket"
is the NBD server's socket (exports and their permission conflicts); steps
with "nbd-client" connect a client to an export over it, do I/O and
disconnect, the oracle predicting each outcome (conformance/block/nbd_clients.py). "#@IMAGE"
names the node QEMU named itself over that image (conformance/block/auto_names.py). A case's
"data" is read back from the images after the session (a stream's copied data; with
"compressed", how qcow2 stores those clusters: iotest 245's L2 check); a "data-one-of"
range reads back one of its patterns (a race decides which).
Each run goes into the results file with a reproducer (conformance/block/case_results.py);
a disagreement recorded in fixtures/divergences.json is an xfail, and a failure once it
no longer happens. The running and judging is tests/block/step_cases.py's (the container
versions use it too: test_block_cases_versions.py).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from block.conftest import StorageView, real_implementation
from block.step_cases import judge, result_of, run_case
from conformance.block.fixture import BlockFixture, StepCase, load_all, load_step_cases

pytestmark = pytest.mark.slow
FIXTURES = (*load_all(), *load_step_cases())
CASES: list[tuple[BlockFixture, StepCase]] = [(fx, case) for fx in FIXTURES for case in fx.cases]


@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
@pytest.mark.parametrize("entry", CASES, ids=[case.id for _fx, case in CASES])
def test_block_case(
    impl_name: str, entry: tuple[BlockFixture, StepCase], storage: Callable[..., StorageView]
) -> None:
    fixture, case = entry
    impl = real_implementation(impl_name)
    run = run_case(impl, fixture, case, storage(case.storage, fixture))
    judge(result_of(fixture, case, impl, run), run)
