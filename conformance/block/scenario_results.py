"""A command-line scenario's run on one implementation as a results entry (qconform report).

Like a step case's entry (conformance/block/case_results.py): the verdict
(pass; diverge, with every step's expected and observed line and the "data"
the images did not read back; crash; skip when the oracle abstained and all
it did predict agreed), the recorded divergence (fixtures/divergences.json,
keyed by scenario id and implementation) and a reproducer: the images, the
program's options as the scenario writes them ("@NAME" is image NAME's path),
the steps, and a command that reruns the scenario.
"""

from __future__ import annotations

import json

from conformance.block.case_results import expected_line, image_summary, known_entry, observed_line
from conformance.block.scenarios import Outcome, Scenario
from conformance.divergences import Divergence
from conformance.runner import CRASH, DIVERGE, PASS, SKIP, Result

TEST_FILE = "tests/block/test_iotest_scenarios.py"
GROUP = "block-scenarios"
NOT_MODELLED = "not modelled"


def scenario_result(
    scenario: Scenario, impl: tuple[str, str], outcome: Outcome, known: dict[tuple[str, str], Divergence]
) -> Result:
    """The outcome's verdict on impl (name, version)."""
    name, version = impl
    status, detail = _verdict(outcome)
    result = Result(scenario.id, GROUP, name, version, status, detail)
    result.sent = [json.dumps(step) for step in scenario.steps]
    if outcome.predicted_exit is not None:
        ended = outcome.exited
        result.expected = [f"exit 1: {outcome.predicted_exit}"]
        result.observed = ["still running" if ended is None else f"exit {ended.code}: {ended.stderr}"]
    else:
        result.expected = [expected_line(step) for step in outcome.steps]
        result.observed = [observed_line(step) for step in outcome.steps]
        result.observed += [f"the image does not read back {entry}" for entry in outcome.bad_data]
    result.setup = _setup(scenario, name, version)
    result.rerun = rerun_command(scenario.id, name)
    result.known = known_entry(known.get((scenario.id, name)))
    return result


def _verdict(outcome: Outcome) -> tuple[str, str]:
    """(status, detail): a crash first, then an abstention with nothing against it, then agreement."""
    crash = outcome.crash or (outcome.exited.crash if outcome.exited is not None else None)
    if crash is not None:
        return CRASH, crash
    if outcome.agrees:
        return PASS, ""
    abstained = _abstained(outcome)
    if abstained is not None:
        return SKIP, abstained
    wrong = next(((i, step) for i, step in enumerate(outcome.steps, 1) if not step.agrees), None)
    if wrong is not None and outcome.exited is None and outcome.oracle is None:
        index, step = wrong
        return (
            DIVERGE,
            f"step {index} ({step.sent.get('execute')}) first disagrees; observed {observed_line(step)}",
        )
    lines = outcome.describe().splitlines()  # its first line names the scenario and implementation
    return DIVERGE, " | ".join(lines[1:] if len(lines) > 1 else lines)


def _abstained(outcome: Outcome) -> str | None:
    """Why the oracle did not predict the run, when all it predicted agrees (None: it predicted it)."""
    if outcome.oracle is not None:
        return outcome.oracle if outcome.oracle.startswith(NOT_MODELLED) else None
    first = next((i for i, step in enumerate(outcome.steps) if step.predicted is None), None)
    if first is None or outcome.exited is not None or outcome.bad_data:
        return None
    if any(not step.agrees for step in outcome.steps[:first]):
        return None
    return f"{NOT_MODELLED} at step {first + 1}: {outcome.steps[first].why_not}"


def rerun_command(scenario_id: str, impl_name: str) -> str:
    test = "test_scenario_in_container" if "@" in impl_name else "test_scenario"
    return f"python -m pytest -rsx '{TEST_FILE}::{test}[{scenario_id}-{impl_name}]'"


def _setup(scenario: Scenario, name: str, version: str) -> str:
    images = ", ".join(image_summary(image) for image in scenario.images)
    options = " ".join(f"{option} {value}" for option, value in scenario.options)
    return (
        f"create the images ({images}) in {scenario.storage} storage, start {name} ({version}) with "
        f'{options or "no options"} ("@NAME" is image NAME\'s path; qemu-storage-daemon spells -blockdev '
        "--blockdev) and a QMP monitor, send "
        "qmp_capabilities, then send:"
    )
