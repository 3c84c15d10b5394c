"""One fixtures/block step case on one implementation: every step, then the images' data,
then the verdict as a results entry (conformance/block/case_results.py).

Shared by the host run (test_block_cases.py) and the container versions
(test_block_cases_versions.py), so both judge a case the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from block.conftest import StorageView
from block.stateful.pool import PoolStorage
from conformance.block.auto_names import with_auto_names
from conformance.block.case_results import case_result
from conformance.block.fixture import BlockFixture, StepCase, data_applies, with_paths
from conformance.block.nbd_clients import ClientStep
from conformance.block.seed_table import nbd_socket
from conformance.block.session import ConnectionClosed, Session, Step
from conformance.divergences import load_divergences
from conformance.implementations import Implementation
from conformance.pytest_plugin import check_result, record_result
from conformance.runner import SKIP, Result
from conformance.storage import reads_pattern, stored_compressed

KNOWN = load_divergences()  # a case's recorded divergence on an implementation: an xfail, in the report


@dataclass(frozen=True)
class CaseRun:
    steps: list[Step | ClientStep]
    crash: str | None  # the crash check's report: the process went away
    bad_data: list[str]  # the case's "data" entries the images do not read back

    def first_abstained(self) -> int | None:
        """The index of the first step the oracle did not predict (None: it predicted them all)."""
        return next((i for i, step in enumerate(self.steps) if step.predicted is None), None)


def run_case(impl: Implementation, fixture: BlockFixture, case: StepCase, view: StorageView) -> CaseRun:
    session = Session(view.implementation(impl), PoolStorage(view.uid))
    steps: list[Step | ClientStep] = []
    crash = None
    try:
        paths = {**view.paths, "nbd-socket": nbd_socket(view.paths)}  # an NBD server in the scratch folder
        for step in (with_paths(command, paths) for command in case.steps):
            if "nbd-client" in step:
                steps.append(session.client(step))
            else:
                steps.append(session.run(with_auto_names(step, session, paths)))
    except ConnectionClosed as gone:  # the crash check: reported as the case's crash
        if gone.crash is None:  # it left without crashing: no result to judge
            raise
        crash = gone.crash
    finally:
        session.close()
    bad_data = _bad_data(fixture, case, view, impl)
    return CaseRun(steps, crash, bad_data)


def _bad_data(fixture: BlockFixture, case: StepCase, view: StorageView, impl: Implementation) -> list[str]:
    """The case's data entries (those that apply to this implementation) the images do not show."""
    formats = {image["name"]: image["format"] for image in fixture.images}
    bad = []
    for entry in case.data:
        if not data_applies(entry, impl.name, impl.profile):
            continue
        path = view.sources[entry["image"]]
        where = (entry["offset"], entry["length"])
        if not reads_pattern(path, formats[entry["image"]], entry["pattern"], *where):
            bad.append(f"the image does not read back {entry}")
        elif "compressed" in entry and not stored_compressed(path, *where, entry["compressed"]):
            bad.append(f"the image does not store the clusters as said {entry}")
    for entry in case.data_one_of:
        path, where = view.sources[entry["image"]], (entry["offset"], entry["length"])
        if not any(reads_pattern(path, formats[entry["image"]], p, *where) for p in entry["patterns"]):
            bad.append(f"the image reads back none of {entry}")
    return bad


def result_of(fixture: BlockFixture, case: StepCase, impl: Implementation, run: CaseRun) -> Result:
    return case_result(fixture, case, (impl.name, impl.version), run.steps, run.crash, KNOWN, run.bad_data)


def judge(result: Result, run: CaseRun) -> None:
    """Record the result for the results file, then pass, fail (every disagreeing step), or
    xfail (a recorded divergence)."""
    record_result(result)
    if result.known is None and result.status != SKIP:  # an unrecorded disagreement: every step
        wrong = [step.describe() for step in run.steps if not step.agrees] + run.bad_data
        assert run.crash is None and not wrong, "\n".join([run.crash or "", *wrong])
    check_result(result)
