"""run_case against fake implementations: every misbehaviour gets the right status, in bounded time,
and no fake outlives its test.

Each fake presents itself as qemu-storage-daemon 7.2 (the qsd flavour, the 7.2
profile, exact_identity False), so the oracle predicts exactly what a real
7.2 qsd would write; tests/fakes/fake_qmp.py's `good` mode writes those bytes.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from conformance.cases import QmpCase, load_cases
from conformance.implementations import INTROSPECTION_DIR, ProcessInstance
from conformance.process import Exit
from conformance.runner import CRASH, DIVERGE, ERROR, PASS, TIMEOUT, InstancePool, Result, run_case
from harness.support import FakeFarm, wait_for

pytestmark = pytest.mark.slow

TIMEOUT_S = 1.0  # run_case's read timeout in these tests
BOUND_S = 5.0  # a hung implementation must cost less than this

GREETING = (
    '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, '
    '"package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}'
)
NO_SUCH_REPLY = (
    '{"id": 1, "error": {"class": "CommandNotFound", '
    '"desc": "The command no-such-command has not been found"}}'
)
SYNC_REPLY = (
    '{"id": "qconform-sync", "error": {"class": "CommandNotFound", '
    '"desc": "The command qconform-sync has not been found"}}'
)


def make_case(case_id: str, send: bytes) -> QmpCase:
    return QmpCase(
        id=case_id, description="harness test", group="harness", source="test_fakes.py", segments=(send,)
    )


NO_SUCH = make_case("harness-no-such-command", b'{"execute": "no-such-command", "id": 1}\n')


def run(farm: FakeFarm, pool: InstancePool, mode: str, case: QmpCase = NO_SUCH) -> tuple[Result, float]:
    impl = farm.implementation(mode)
    started = time.monotonic()
    result = run_case(case, impl, pool, timeout=TIMEOUT_S)
    return result, time.monotonic() - started


def instance(farm: FakeFarm, index: int = -1) -> ProcessInstance:
    return farm.instances[index]


def assert_nothing_left(farm: FakeFarm, pool: InstancePool) -> None:
    pool.close()
    assert farm.leftovers() == []


# --- a well-behaved fake passes ------------------------------------------------------------


def test_good_fake_passes_a_dispatch_case(farm: FakeFarm, pool: InstancePool) -> None:
    result, _ = run(farm, pool, "good")
    assert (result.status, result.detail) == (PASS, "")
    assert result.observed == [GREETING, '{"return": {}}', NO_SUCH_REPLY, SYNC_REPLY]
    assert_nothing_left(farm, pool)


def test_fake_greeting_is_the_snapshots(farm: FakeFarm, pool: InstancePool) -> None:
    """The fake's greeting is the captured qsd 7.2 greeting, member order included."""
    snapshot = json.loads((INTROSPECTION_DIR / "qsd-7.2.json").read_text(encoding="utf-8"))
    result, _ = run(farm, pool, "good")
    assert result.observed[0] == json.dumps(snapshot["greeting"])
    assert_nothing_left(farm, pool)


def test_good_fake_serves_fixture_cases_on_one_instance(farm: FakeFarm, pool: InstancePool) -> None:
    """Several real fixture cases in a row reuse one instance and still pass: nothing from one
    case's conversation leaks into the next."""
    wanted = ("dispatch-not-object-int", "dispatch-not-object-empty-array", "dispatch-empty-object")
    cases = {c.id: c for c in load_cases()}
    impl = farm.implementation("good")
    results = [run_case(cases[case_id], impl, pool, timeout=TIMEOUT_S) for case_id in wanted]
    assert [(r.status, r.detail) for r in results] == [(PASS, "")] * len(wanted)
    assert len(farm.instances) == 1
    assert_nothing_left(farm, pool)


# --- hangs: a TIMEOUT result, never a hung run ------------------------------------------------


def test_hang_after_negotiation_is_a_timeout(farm: FakeFarm, pool: InstancePool) -> None:
    result, elapsed = run(farm, pool, "hang-commands")
    assert elapsed < BOUND_S
    assert result.status == TIMEOUT
    assert result.detail.startswith("no reply within the read timeout")
    assert result.observed == [GREETING, '{"return": {}}']
    assert_nothing_left(farm, pool)


@pytest.mark.parametrize("mode", ["hang", "hang-greeting"])
def test_hang_before_negotiation_is_bounded(farm: FakeFarm, pool: InstancePool, mode: str) -> None:
    """Whatever it is called (see the xfail below), a fake that never answers costs one read
    timeout, not a hung run, and the pool's close reaps it."""
    result, elapsed = run(farm, pool, mode)
    assert elapsed < BOUND_S
    assert result.status in (TIMEOUT, ERROR)
    assert_nothing_left(farm, pool)


@pytest.mark.parametrize("mode", ["hang", "hang-greeting"])
def test_hang_before_negotiation_is_a_timeout(farm: FakeFarm, pool: InstancePool, mode: str) -> None:
    result, _ = run(farm, pool, mode)
    assert result.status == TIMEOUT, result.detail


def test_babbling_fake_is_bounded(farm: FakeFarm, pool: InstancePool) -> None:
    impl = farm.implementation("babble")
    results: list[Result] = []
    worker = threading.Thread(
        target=lambda: results.append(run_case(NO_SUCH, impl, pool, timeout=0.5)), daemon=True
    )
    worker.start()
    worker.join(3.0)
    finished = not worker.is_alive()
    # Unstick the worker (if it is stuck) by stopping the fake under it.
    pool.close()
    worker.join(5.0)
    assert farm.leftovers() == []
    assert finished, "run_case still reading after 3 s with a 0.5 s read timeout"
    assert results[0].status == TIMEOUT


# --- crashes: signal named, stderr quoted, instance replaced -----------------------------------


@pytest.mark.parametrize(
    ("mode", "how", "stderr"),
    [
        ("crash", "killed by SIGSEGV", "qmp_dispatch: Assertion `cmd->fn' failed"),
        ("abort", "killed by SIGABRT", "monitor_qmp_dispatch: Assertion `x' failed."),
        ("abort-exit", "exited with status 1", "monitor_qmp_dispatch: Assertion `x' failed."),
    ],
)
def test_crash_is_reported_with_signal_and_stderr(
    farm: FakeFarm, pool: InstancePool, mode: str, how: str, stderr: str
) -> None:
    result, elapsed = run(farm, pool, mode)
    assert elapsed < BOUND_S
    assert result.status == CRASH
    assert result.detail.startswith(f"fake-{mode} {how}: ")
    assert stderr in result.detail
    assert result.observed == [GREETING, '{"return": {}}']
    assert not instance(farm).alive()
    assert_nothing_left(farm, pool)


def test_pool_replaces_a_crashed_instance(farm: FakeFarm, pool: InstancePool) -> None:
    impl = farm.implementation("crash")
    first = run_case(NO_SUCH, impl, pool, timeout=TIMEOUT_S)
    second = run_case(NO_SUCH, impl, pool, timeout=TIMEOUT_S)
    assert (first.status, second.status) == (CRASH, CRASH)
    assert len(farm.instances) == 2
    assert farm.pids[0] != farm.pids[1]
    assert_nothing_left(farm, pool)


def test_crash_between_cases_is_reported(farm: FakeFarm, pool: InstancePool) -> None:
    impl = farm.implementation("crash-on-disconnect")
    first = run_case(NO_SUCH, impl, pool, timeout=TIMEOUT_S)
    assert first.status == PASS
    assert wait_for(lambda: not instance(farm, 0).alive(), 2.0)
    second = run_case(NO_SUCH, impl, pool, timeout=TIMEOUT_S)
    assert CRASH in (first.status, second.status)


# --- output that is wrong, not missing ---------------------------------------------------------


def test_garbled_answers_are_a_divergence(farm: FakeFarm, pool: InstancePool) -> None:
    result, elapsed = run(farm, pool, "garble")
    assert elapsed < BOUND_S
    assert result.status == DIVERGE
    assert result.detail.startswith('line 2: got \ufffd\ufffd<garbled>{"return": {}')
    assert len(result.observed) == 4
    assert instance(farm).alive()
    assert_nothing_left(farm, pool)


def test_pure_noise_is_a_timeout_that_names_the_first_bad_line(farm: FakeFarm, pool: InstancePool) -> None:
    """Noise without the sync reply's id never ends the read: the run waits one read timeout
    and reports TIMEOUT, with the first differing line in the detail (see the report: a
    divergence already seen is arguably the better status)."""
    result, elapsed = run(farm, pool, "garble-noise")
    assert elapsed < BOUND_S
    assert result.status == TIMEOUT
    assert "(line 2: got \x1b[31m*** " in result.detail
    assert_nothing_left(farm, pool)


def test_double_answers_are_a_divergence_and_do_not_leak(farm: FakeFarm, pool: InstancePool) -> None:
    """The duplicate of the negotiation reply is caught; the duplicates left unread at the end of
    one case do not shift the next case's lines (each case has its own connection)."""
    impl = farm.implementation("twice")
    first = run_case(NO_SUCH, impl, pool, timeout=TIMEOUT_S)
    second = run_case(NO_SUCH, impl, pool, timeout=TIMEOUT_S)
    assert first.status == DIVERGE
    assert first.detail == 'line 3: got {"return": {}}'
    assert first.observed == [GREETING, *['{"return": {}}'] * 2, *[NO_SUCH_REPLY] * 2, SYNC_REPLY]
    assert (second.status, second.detail, second.observed) == (DIVERGE, first.detail, first.observed)
    assert len(farm.instances) == 1
    assert_nothing_left(farm, pool)


# --- leaving: a closed connection or a clean exit is not a crash -------------------------------


def test_close_after_greeting_is_a_divergence_not_a_crash(farm: FakeFarm, pool: InstancePool) -> None:
    result, elapsed = run(farm, pool, "close-early")
    assert elapsed < BOUND_S
    assert result.status == DIVERGE
    assert result.detail == "line 2: missing (expected 4 lines, got 1)"
    assert result.observed == [GREETING]
    assert instance(farm).alive()
    assert instance(farm).crash_report() is None
    assert_nothing_left(farm, pool)


def test_clean_exit_is_a_divergence_not_a_crash(farm: FakeFarm, pool: InstancePool) -> None:
    impl = farm.implementation("exit-zero")
    first = run_case(NO_SUCH, impl, pool, timeout=TIMEOUT_S)
    assert first.status == DIVERGE
    assert first.detail == "line 2: missing (expected 4 lines, got 1) (the process exited)"
    assert instance(farm, 0).process.exit_status() == Exit(0, None)
    # The dead instance is replaced for the next case.
    second = run_case(NO_SUCH, impl, pool, timeout=TIMEOUT_S)
    assert (second.status, len(farm.instances)) == (DIVERGE, 2)
    assert_nothing_left(farm, pool)


def test_socket_that_listens_late_is_waited_for(farm: FakeFarm, pool: InstancePool) -> None:
    result, _ = run(farm, pool, "listen-late")
    assert result.status == PASS, result.detail
