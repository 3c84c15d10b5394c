"""Every probe against every server of fixtures/nbd/servers.json, read-only and writable.

The reference must pass every MUST clause. Other servers' failures are reported (in the test
output, with reasons), not asserted, except one thing asserted everywhere: a write to a
read-only export never changes its data.
"""

from __future__ import annotations

import os

import pytest

from conformance.nbd.matrix import load_matrix, load_probes
from conformance.nbd.runner import MODES, missing_reason, run_server
from conformance.nbd.verdicts import Verdict
from conformance.pytest_plugin import record_nbd_run

pytestmark = pytest.mark.slow
MATRIX = load_matrix()


def test_probe_list_and_matrix_load() -> None:
    from conformance.nbd.libnbd_probes import LIBNBD_PROBES
    from conformance.nbd.runner import ALL_PROBES

    probes = load_probes()
    assert {p.id for p in probes if p.client == "probe"} == set(ALL_PROBES)
    assert {p.id for p in probes if p.client == "libnbd"} == set(LIBNBD_PROBES)
    assert all(
        "127.0.0.1" in s.argv or s.transport == "unix" or "{port}" in " ".join(s.argv) for s in MATRIX.servers
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("server", [s.name for s in MATRIX.servers])
def test_server(server: str, mode: str) -> None:
    spec = MATRIX.server(server)
    reason = missing_reason(spec)
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{server} is missing under CI=true: {reason}")
        pytest.skip(reason)
    run = run_server(spec, mode, MATRIX)
    record_nbd_run(run.to_json())
    for r in run.results:
        if r.verdict is not Verdict.PASS:
            note = f" [{r.known}]" if r.known else ""
            print(f"{server} {mode}: {r.verdict.value} {r.probe} {r.clause}: {r.reason}{note}")
    assert run.crash is None, run.crash
    expected = {(p.id, clause) for p in load_probes() if mode in p.modes for clause in p.clauses}
    judged = {(r.probe, r.clause) for r in run.results}
    assert expected <= judged, f"clauses without a verdict: {sorted(expected - judged)}"
    unchanged = [r for r in run.results if r.clause == "tx-read-only-unchanged"]
    changed = [r for r in unchanged if r.verdict in (Verdict.FAIL, Verdict.WARN)]
    assert not changed, f"a refused write changed data on {server}: {changed}"
    if mode == "read-only":
        assert any(r.verdict is Verdict.PASS for r in unchanged)
    if server.startswith("reference"):
        failed = run.by_verdict(Verdict.FAIL)
        assert not failed, "\n".join(f"{r.probe} {r.clause}: {r.reason}" for r in failed)
        warned = run.by_verdict(Verdict.WARN)
        assert not warned, "\n".join(f"{r.probe} {r.clause}: {r.reason}" for r in warned)
