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
no longer happens.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from block.conftest import StorageView, real_implementation
from block.stateful.pool import PoolStorage
from conformance.block.auto_names import with_auto_names
from conformance.block.case_results import case_result
from conformance.block.fixture import BlockFixture, StepCase, load_all, load_step_cases, with_paths
from conformance.block.nbd_clients import ClientStep
from conformance.block.seed_table import nbd_socket
from conformance.block.session import ConnectionClosed, Session, Step
from conformance.divergences import load_divergences
from conformance.pytest_plugin import check_result, record_result
from conformance.storage import reads_pattern, stored_compressed

pytestmark = pytest.mark.slow
FIXTURES = (*load_all(), *load_step_cases())
CASES: list[tuple[BlockFixture, StepCase]] = [(fx, case) for fx in FIXTURES for case in fx.cases]
KNOWN = load_divergences()  # a case's recorded divergence on an implementation: an xfail, in the report


@pytest.mark.parametrize("impl_name", ["qsd", "qemu-system"])
@pytest.mark.parametrize("entry", CASES, ids=[case.id for _fx, case in CASES])
def test_block_case(
    impl_name: str, entry: tuple[BlockFixture, StepCase], storage: Callable[..., StorageView]
) -> None:
    fixture, case = entry
    impl = real_implementation(impl_name)
    view = storage(case.storage, fixture)
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
    bad_data = _bad_data(fixture, case, view, impl_name)
    result = case_result(fixture, case, (impl.name, impl.version), steps, crash, KNOWN, bad_data)
    record_result(result)
    if result.known is None:  # an unrecorded disagreement shows every step that disagrees
        wrong = [step.describe() for step in steps if not step.agrees] + bad_data
        assert crash is None and not wrong, "\n".join([crash or "", *wrong])
    check_result(result)


def _bad_data(fixture: BlockFixture, case: StepCase, view: StorageView, impl_name: str) -> list[str]:
    """The case's data entries (those this implementation's session wrote) the images do not show."""
    formats = {image["name"]: image["format"] for image in fixture.images}
    bad = []
    for entry in case.data:
        if impl_name not in entry.get("implementations", [impl_name]):
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
