"""Known NBD findings (fixtures/nbd/known.json): each reproducer still shows its finding on each server.

A finding that no longer reproduces is stale and fails here; the matrix verdicts are never changed by it.
"""

from __future__ import annotations

import os

import pytest

from conformance.nbd.known import KINDS, load_known
from conformance.nbd.matrix import load_matrix, load_probes
from conformance.nbd.reproducers import REPRODUCERS
from conformance.nbd.runner import missing_reason, running

pytestmark = pytest.mark.slow
MATRIX = load_matrix()
FINDINGS = load_known()


def test_findings_name_real_things() -> None:
    servers = {s.name for s in MATRIX.servers}
    probes = {p.id: p for p in load_probes()}
    for f in FINDINGS:
        assert f.kind in KINDS and set(f.servers) <= servers, f.id
        assert f.probe in probes and f.clause in probes[f.probe].clauses, f.id
        assert set(f.modes) <= set(probes[f.probe].modes), f.id
        assert set(f.reproducers) <= set(REPRODUCERS), f.id


@pytest.mark.parametrize(("finding", "server"), [(f.id, server) for f in FINDINGS for server in f.servers])
def test_finding_reproduces(finding: str, server: str) -> None:
    f = next(x for x in FINDINGS if x.id == finding)
    spec = MATRIX.server(server)
    reason = missing_reason(spec)
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{server} is missing under CI=true: {reason}")
        pytest.skip(reason)
    with running(spec, MATRIX, f.modes[0]) as (_server, target):
        for name in f.reproducers:
            shows, seen = REPRODUCERS[name](target)
            print(f"{finding} on {server}, {name}: {seen}")
            assert shows, (
                f"{finding} no longer shows on {server} ({name}: {seen}): update fixtures/nbd/known.json"
            )
