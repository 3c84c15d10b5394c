"""fixtures/block step cases on QEMU 10.0 (trixie), 11.1 (sid) and 7.2 in a container (bookworm).

The implementation's profile drives the oracle (Session reads impl.profile), its
container sees the storage view at the same path (conformance/block/views.py), so
each reply and event is judged as on the host (tests/block/test_block_cases.py).

Which cases run where (a container each, about 0.6 s; all of them on every version is
QCONFORM_ALL_VERSIONS=1, about 2 minutes at -n 2; every case agreed on all five when this was
written):
- qsd@trixie (10.0) and qsd@sid (11.1): the cases take turns between the two in fixture order,
  and each runs the first PER_FILE of its turns in every fixture file (about 70 runs, 30 s at
  -n 2 on an idle machine: each container costs 0.6 s), plus, on both, the cases that pin the
  profile data those versions share (BOTH_VERSIONS); x-blockdev-reopen-* (5.2's command, gone
  in 6.1: only their blockdev-adds say anything) take one turn, and the cases with HMP steps
  run on qemu-system instead (qsd has no HMP);
- qsd@bookworm (7.2 as on the host, so a disagreement is a harness bug, not QEMU's): one case
  per thing the container harness does (HARNESS_CHECK);
- qemu-system@trixie, qemu-system@sid: the cases with HMP steps, taking turns, io-245's
  (qemu-io's report read from the container's stdout) on both.

Each run is judged and recorded as on the host (tests/block/step_cases.py: a results entry
with its reproducer; a disagreement recorded in fixtures/divergences.json for (case,
implementation) is an xfail, and a failure once it no longer happens). A step the oracle
abstains on, all before it agreeing, makes the case a skip with the reason (never a pass).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from block.conftest import StorageView
from block.container_impls import container_implementation
from block.step_cases import judge, result_of, run_case
from conformance.block.fixture import BlockFixture, StepCase, load_all, load_step_cases
from conformance.runner import SKIP

pytestmark = pytest.mark.slow
FIXTURES = (*load_all(), *load_step_cases())
EVERY = [(fx, case) for fx in FIXTURES for case in fx.cases]
HMP = {case.id for _fx, case in EVERY if any(s.get("execute") == "human-monitor-command" for s in case.steps)}
# On both 10.0 and 11.1: the cases that pin their shared profile data (reference/profiles.py).
BOTH_VERSIONS = frozenset({
    "regression-commit-dirty-bitmap",  # mirror_bitmap_on_filter
    "reopen-245-quorum",  # other drivers' query-named-block-nodes (11.1: children roles, limits)
    "reopen-245-blkverify",
    "reopen-245-blkdebug",
    "reopen-245-throttle",
    "io-245-io-with-graph-changes",  # qemu-io's report through the container's stdout
    "stream-245-middle",  # stream_restores_read_only
    "reopen-245-jobs-stream-4",
    "reopen-245-jobs-stream-3",  # 11.1: copy-on-read's child is its 'file'
    "job-control-pause-resume-cancel",  # limited_job_wake_up_copies: resumes
    "job-control-running-cancel-set-speed",  # and a raised speed
    "compress-filter-unmap-own-discard",  # zero_unmap_own_discard
    "compress-filter-query",  # 10.0's "active" and file format-specific, 11.1's "children" and limits
})  # fmt: skip
OLD_COMMAND = "x-blockdev-reopen-"
# 7.2 in a container: a writable, a read-only-mount and an unprivileged view, NBD clients
# over the scratch folder's socket, a block job.
HARNESS_CHECK = frozenset({
    "names", "read-only-mount", "unprivileged", "export-client-safe-and-hard-delete",
    "job-control-pause-resume-cancel",
})  # fmt: skip


# Cases that run on the host only (none now: job-limited-cancel-after-wake-up-data's data, what a
# cancelled rate-limited commit left in the base, read back stale after a container run until a
# container's QEMU got SIGTERM and time to flush its qcow2 metadata, conformance/containers.py).
HOST_ONLY: frozenset[str] = frozenset()


def _turns(cases: list[StepCase]) -> dict[str, str]:
    """case id -> the suite whose turn it is ("trixie", "sid"), in fixture order."""
    return {case.id: ("sid", "trixie")[index % 2] for index, case in enumerate(cases)}


QSD_TURNS = _turns([case for _fx, case in EVERY if not case.id.startswith(OLD_COMMAND) and case.id not in HMP]
                   + [next(case for _fx, case in EVERY if case.id.startswith(OLD_COMMAND))])  # fmt: skip
HMP_TURNS = _turns([case for _fx, case in EVERY if case.id in HMP])
PER_FILE = 2  # each fixture file's cases each version runs by default, from its turns


def _sampled(suite: str) -> set[str]:
    """The first PER_FILE cases of every fixture file whose turn is the suite's."""
    return {case.id for fx in FIXTURES
            for case in [c for c in fx.cases if QSD_TURNS.get(c.id) == suite][:PER_FILE]}  # fmt: skip


SAMPLED = {suite: _sampled(suite) for suite in ("trixie", "sid")}


def _selected(impl: str, case: StepCase, every: bool) -> bool:
    family, suite = impl.split("@")
    if case.id in HOST_ONLY:
        return False
    if family == "qemu-system":
        return case.id in HMP and (every or case.id in BOTH_VERSIONS or HMP_TURNS[case.id] == suite)
    if suite == "bookworm":
        return every or case.id in HARNESS_CHECK
    if every:
        return True
    return case.id not in HMP and (case.id in BOTH_VERSIONS or case.id in SAMPLED[suite])


THIS_FILE = "tests/block/test_block_cases_versions.py"
IMPLEMENTATIONS = ("qsd@sid", "qsd@trixie", "qsd@bookworm", "qemu-system@trixie", "qemu-system@sid")
Run = tuple[str, BlockFixture, StepCase]


def runs(every: bool) -> list[Run]:
    """(implementation, fixture, case) to run; every: all cases on every implementation."""
    return [
        (impl, fx, case) for impl in IMPLEMENTATIONS for fx, case in EVERY if _selected(impl, case, every)
    ]


RUNS = runs(os.environ.get("QCONFORM_ALL_VERSIONS") == "1")


@pytest.mark.parametrize("entry", RUNS, ids=[f"{case.id}-{impl}" for impl, _fx, case in RUNS])
def test_block_case_on_version(entry: Run, storage: Callable[..., StorageView]) -> None:
    impl_name, fixture, case = entry
    impl = container_implementation(impl_name, storage=True)
    run = run_case(impl, fixture, case, storage(case.storage, fixture))
    result = result_of(fixture, case, impl, run)
    result.rerun = f"python -m pytest -rsx '{THIS_FILE}::test_block_case_on_version[{case.id}-{impl_name}]'"
    abstained = run.first_abstained()
    if abstained is not None and result.known is None and run.crash is None:
        before = [step for step in run.steps[:abstained] if not step.agrees]
        if not before and not run.bad_data:  # what the oracle predicted agrees; the rest it does not know
            result.status = SKIP
            result.detail = f"not modelled at step {abstained + 1}: {run.steps[abstained].why_not}"
    judge(result, run)


def test_the_selection_samples_every_fixture_file_on_10_0_and_11_1() -> None:
    ids = {case.id for _fx, case in EVERY}
    assert ids >= BOTH_VERSIONS | HARNESS_CHECK | HMP | HOST_ONLY
    ran = {(name, case.id) for name, _fx, case in runs(every=False)}
    later = {case_id for name, case_id in ran if name in ("qsd@trixie", "qsd@sid")}
    assert not later & HMP  # those run on qemu-system
    assert len([i for i in later if i.startswith(OLD_COMMAND)]) == 1
    for fx in FIXTURES:  # every fixture file on both versions, at most PER_FILE cases (and pins) each
        eligible = [c.id for c in fx.cases
                    if c.id not in HMP | HOST_ONLY and not c.id.startswith(OLD_COMMAND)]  # fmt: skip
        for name in ("qsd@trixie", "qsd@sid"):
            mine = {c.id for c in fx.cases if (name, c.id) in ran}
            assert mine or len(eligible) < 2, (name, fx.cases[0].id)
            assert len(mine - BOTH_VERSIONS) <= PER_FILE
    assert all(("qsd@trixie", i) in ran and ("qsd@sid", i) in ran for i in BOTH_VERSIONS - HMP)
    hmp_runs = {case_id for name, case_id in ran if name.startswith("qemu-system@")}
    assert hmp_runs == HMP
    storages = {case.storage for _fx, case in EVERY if case.id in HARNESS_CHECK}
    assert storages == {"writable", "read-only-mount", "unprivileged"}
    everything = {(name, case.id) for name, _fx, case in runs(every=True)}
    # each qsd every case, qemu-system HMP's; none of HOST_ONLY
    assert len(everything) == 3 * len(ids - HOST_ONLY) + 2 * len(HMP - HOST_ONLY)
