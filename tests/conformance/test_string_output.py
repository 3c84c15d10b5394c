"""The string output visitor against qemu-system-x86_64 7.2: what HMP prints for values we set.

One qemu-system process per batch of fixtures/string-output/cases.json (one
in all today); each case is a test comparing the oracle's line with QEMU's.
"""

from __future__ import annotations

import os

import pytest

from conformance.hmp import find_qemu_system
from conformance.implementations import probe_version
from conformance.string_output_cases import Batch, Case, Outcome, load, run_batch

BATCHES = load()
CASES = [(batch, case) for batch in BATCHES for case in batch.cases]


@pytest.fixture(scope="module")
def qemu_system() -> str:
    binary = find_qemu_system()
    if binary is None:
        message = "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    if probe_version(binary)[:2] != (7, 2):
        pytest.skip(f"{binary} is not QEMU 7.2: the cases' devices and values are 7.2's")
    return binary


@pytest.fixture(scope="module")
def outcomes(qemu_system: str) -> dict[str, Outcome]:
    found: dict[str, Outcome] = {}
    for batch in BATCHES:
        found.update({outcome.case.id: outcome for outcome in run_batch(qemu_system, batch)})
    return found


@pytest.mark.parametrize(("batch", "case"), CASES, ids=[case.id for _, case in CASES])
def test_string_output_case(batch: Batch, case: Case, outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes[case.id]
    assert outcome.observed is not None, f"{case.source}: nothing printed for {case.id} in batch {batch.id}"
    assert outcome.observed == outcome.expected
