"""A block step case's run on one implementation as a results entry, with a reproducer.

The entry says what was compared (every step's expected and observed line,
then the case's "data" the images did not read back), whether the
implementation crashed, and how to see it again: the transcript as the case
file has it ("@NAME" is image NAME's path), the images to create, and a
command that reruns the case. A recorded divergence (fixtures/divergences.json,
keyed by case id and implementation) is attached, so the report lists it as a
known finding and pytest makes it an xfail.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.block.fixture import BlockFixture, StepCase
from conformance.block.nbd_clients import ClientStep
from conformance.block.session import Step
from conformance.divergences import Divergence
from conformance.runner import CRASH, DIVERGE, PASS, Result

TEST_FILE = "tests/block/test_block_cases.py"
GROUP = "block-cases"


def case_result(
    fixture: BlockFixture,
    case: StepCase,
    impl: tuple[str, str],
    steps: Sequence[Step | ClientStep],
    crash: str | None,
    known: dict[tuple[str, str], Divergence],
    bad_data: Sequence[str] = (),
) -> Result:
    """The run's verdict on impl (name, version): crash (the process went away), diverge (a step
    disagrees) or pass."""
    name, version = impl
    wrong = [step for step in steps if not step.agrees]
    status = CRASH if crash is not None else DIVERGE if wrong or bad_data else PASS
    details = [crash] if crash is not None else []
    details += [_first_wrong(steps)] if wrong else []
    details += list(bad_data)
    result = Result(case.id, GROUP, name, version, status, "; ".join(details))
    result.sent = [json.dumps(command) for command in case.steps]
    result.expected = [expected_line(step) for step in steps]
    result.observed = [observed_line(step) for step in steps] + list(bad_data)
    result.setup = _setup(fixture, case, name, version)
    result.rerun = rerun_command(case.id, name)
    result.known = known_entry(known.get((case.id, name)))
    return result


def known_entry(divergence: Divergence | None) -> dict[str, Any] | None:
    """A recorded divergence as a result carries it (None: none recorded)."""
    if divergence is None:
        return None
    entry: dict[str, Any] = {"kind": divergence.kind, "reason": divergence.reason}
    if divergence.intermittent:
        entry["intermittent"] = True
    return entry


def rerun_command(case_id: str, impl_name: str) -> str:
    return f"python -m pytest -rx '{TEST_FILE}::test_block_case[{case_id}-{impl_name}]'"


def _first_wrong(steps: Sequence[Step | ClientStep]) -> str:
    index, step = next((i, step) for i, step in enumerate(steps, 1) if not step.agrees)
    what = step.sent.get("execute") or f"NBD client {step.sent.get('action')}"
    return f"step {index} ({what}) first disagrees; observed {observed_line(step)}"


def expected_line(step: Step | ClientStep) -> str:
    text = step.describe().splitlines()
    return text[1].strip() if len(text) > 1 else ""


def observed_line(step: Step | ClientStep) -> str:
    if isinstance(step, ClientStep):
        return step.observed
    events = [event.decode() for event in step.events]
    return " ".join([*events, step.observed.decode()])


def _setup(fixture: BlockFixture, case: StepCase, name: str, version: str) -> str:
    images = ", ".join(image_summary(image) for image in fixture.images)
    return (
        f"create the images ({images}) in {case.storage} storage, start {name} "
        f'({version}) with a QMP monitor, send qmp_capabilities, then send ("@NAME" is image'
        ' NAME\'s path, "@nbd-socket" a unix socket path in the same folder):'
    )


def image_summary(image: dict[str, Any]) -> str:
    data = image.get("data", [])
    runs = data if isinstance(data, list) else [data]
    parts = [f"{image['name']}: {image['format']} {image['size']} bytes"]
    if image.get("backing"):
        parts.append(f"backing {image['backing']}")
    parts += [f"0x{run['pattern']:02x} at {run['offset']} for {run['length']}" for run in runs]
    return ", ".join(parts)
