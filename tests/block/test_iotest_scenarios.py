"""QEMU's iotests 247, 249, 232 and 245's iothread tests, and qemu-system's option order, as
command-line scenarios (fixtures/block/scenarios.json) on host binaries, and on QEMU 10.0 and 11.1
in containers (qemu-system@trixie, qsd@sid: about 0.6 s a scenario); iotest 232 (HMP info block)
on 5.2 and 11.1 too; a scenario's own "containers" list replaces the test's.

Each scenario starts the program with the test's options, then every QMP
step's reply and events must be what the oracle predicts from those options,
and the images must read back the scenario's data once the program is gone.
Each run goes into the results file (conformance/block/scenario_results.py), so
`qconform report` lists it: agreed, diverged (with the diff), abstained (a skip
with the reason) or a recorded divergence (an xfail).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from block.conftest import StorageView, real_implementation
from block.container_impls import container_implementation
from conformance.block.scenario_results import scenario_result
from conformance.block.scenarios import Outcome, Scenario, load, run
from conformance.divergences import load_divergences
from conformance.errors import QconformError
from conformance.implementations import Implementation
from conformance.pytest_plugin import check_result, record_result
from conformance.runner import PASS, SKIP

SCENARIOS = load()
KNOWN = load_divergences()  # a scenario's recorded divergence on an implementation: an xfail
RUNS = [(scenario, program) for scenario in SCENARIOS for program in scenario.programs]
# The other FAMILY@SUITE agree too (bookworm, trixie, sid; qsd@bullseye on 247): see the report.
# qemu-system@bullseye (5.2) runs them all: its quit order and node-name wording are profile data.
CONTAINERS = ("qemu-system@trixie", "qsd@sid", "qemu-system@bullseye")
# iotest 232 (HMP info block) on every qemu-system version the HMP model is pinned on.
HMP_232 = ("qemu-system@sid",)


def _containers(scenario: Scenario) -> tuple[str, ...]:
    """The scenario's own list ("containers"), else the test's."""
    if scenario.containers is not None:
        return scenario.containers
    return CONTAINERS + (HMP_232 if scenario.id.startswith("iotest-232") else ())


CONTAINER_RUNS = [
    (scenario, name) for scenario in SCENARIOS for name in _containers(scenario)
    if name.split("@")[0] in scenario.programs
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("entry", RUNS, ids=[f"{s.id}-{p}" for s, p in RUNS])
def test_scenario(entry: tuple[Scenario, str], storage: Callable[..., StorageView]) -> None:
    scenario, program = entry
    impl = real_implementation(program)
    outcome = run(scenario, impl, storage(scenario.storage, scenario.fixture()))
    judge(scenario, impl, outcome)


@pytest.mark.slow
@pytest.mark.parametrize("entry", CONTAINER_RUNS, ids=[f"{s.id}-{n}" for s, n in CONTAINER_RUNS])
def test_scenario_in_container(entry: tuple[Scenario, str], storage: Callable[..., StorageView]) -> None:
    """The same options in QEMU 10.0/11.1: query-named-block-nodes as those profiles have it
    ("active", "children", "limits"), the images bind-mounted at the same path."""
    scenario, name = entry
    impl = container_implementation(name, storage=True)
    outcome = run(scenario, impl, storage(scenario.storage, scenario.fixture()))
    judge(scenario, impl, outcome)


def judge(scenario: Scenario, impl: Implementation, outcome: Outcome) -> None:
    """Record the run for the results file; then every step agrees, or the scenario diverges on
    impl as fixtures/divergences.json says (an xfail). The oracle abstaining is a skip in the
    results file and a failure here: a scenario is predicted in full."""
    result = scenario_result(scenario, (impl.name, impl.version), outcome, KNOWN)
    record_result(result)
    if result.status == SKIP and result.known is None:
        pytest.fail(f"the oracle abstained: {result.detail}", pytrace=False)
    if result.status == PASS and result.known is None:
        assert len(outcome.steps) == len(scenario.steps)
        assert (outcome.predicted_exit is not None) == scenario.exit
    if result.known is not None and result.status != PASS:
        pytest.xfail(f"{result.known['kind']}: {result.known['reason']}\n{outcome.describe()}")
    check_result(result)


def test_every_iotest_is_a_scenario_with_its_programs() -> None:
    programs = {scenario.id: scenario.programs for scenario in SCENARIOS}
    assert programs["iotest-247"] == ("qemu-system", "qsd")
    assert programs["iotest-249"] == ("qemu-system",)
    for storage in ("read-only-mount", "unprivileged"):
        assert programs[f"iotest-247-{storage}"] == ("qemu-system", "qsd")
        assert programs[f"iotest-249-{storage}"] == ("qemu-system",)
    for storage in ("writable", "unprivileged"):
        assert programs[f"iotest-232-{storage}"] == ("qemu-system",)
    ends = {scenario.id: scenario.steps[-1] for scenario in SCENARIOS if scenario.steps}
    assert ends["iotest-247"] == {"execute": "quit"}  # the test's last command, judged too


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["scenarios"][0].pop("steps"), "'steps' is a required property"),
        (lambda d: d["scenarios"][0]["options"].append(["-drive", "if=none,file=@t0"]),
         "qemu-storage-daemon has no -drive"),
        (lambda d: d["scenarios"][0]["options"].append(["-blockdev", "file,filename=@nope,node-name=x"]),
         "no image 'nope'"),
        (lambda d: d["scenarios"][0]["data"].append({"image": "nope", "pattern": 0, "offset": 0,
                                                          "length": 1}),
         "data names no image"),
        (lambda d: d["scenarios"][0].update(exit=True), "whose program exits has no steps or data"),
    ],
)  # fmt: skip
def test_a_broken_scenario_is_a_one_line_error(
    tmp_path: Path, change: Callable[[dict[str, object]], object], message: str
) -> None:
    from conformance.block.scenarios import SCENARIOS as PATH

    data = json.loads(PATH.read_text())
    change(data)
    broken = tmp_path / "scenarios.json"
    broken.write_text(json.dumps(data))
    with pytest.raises(QconformError, match=message) as err:
        load(broken)
    assert "\n" not in str(err.value)
