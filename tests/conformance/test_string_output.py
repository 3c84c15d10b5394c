"""The string output visitor against every qemu-system: what HMP prints for values we set.

Every qemu-system implementation runs it: the host's 7.2 and, in containers,
qemu-system@bookworm/trixie/sid. One qemu-system process per batch of
fixtures/string-output/cases.json (one in all today), so a container costs one
start per batch; each case is a test comparing the oracle's line with QEMU's.
The same cases hold on 7.2, 10.0 and 11.1: the devices, properties, HMP
formats and size_to_str's output did not change for them.
"""

from __future__ import annotations

import pytest

from conformance.hmp import SystemTarget
from conformance.string_output_cases import Batch, Case, Outcome, load, run_batch

BATCHES = load()
CASES = [(batch, case) for batch in BATCHES for case in batch.cases]


@pytest.fixture(scope="module")
def outcomes(qemu_system: SystemTarget) -> dict[str, Outcome]:
    found: dict[str, Outcome] = {}
    for batch in BATCHES:
        found.update({outcome.case.id: outcome for outcome in run_batch(qemu_system, batch)})
    return found


@pytest.mark.parametrize(("batch", "case"), CASES, ids=[case.id for _, case in CASES])
def test_string_output_case(batch: Batch, case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.id]
    assert outcome.observed is not None, f"{case.source}: nothing printed for {case.id} in batch {batch.id}"
    assert outcome.observed == outcome.expected
