"""Known NBD findings (fixtures/nbd/known.json): a verdict that is not a pass, explained.

A finding never changes a verdict: it is shown next to it (report, matrix test output),
and tests/nbd/test_nbd_known.py re-runs its reproducer so a stale explanation fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.nbd.matrix import _load
from reference.nbd.clauses import CLAUSES

KINDS = ("implementation-bug", "version-difference", "spec-ambiguity")


@dataclass(frozen=True)
class Finding:
    id: str
    servers: tuple[str, ...]
    modes: tuple[str, ...]
    probe: str
    clause: str
    kind: str
    reason: str
    reproducers: tuple[str, ...]  # functions of conformance/nbd/reproducers.py
    shows: str  # what the reproducer sends and sees, in a line

    def covers(self, server: str, mode: str, probe: str, clause: str) -> bool:
        return server in self.servers and mode in self.modes and (probe, clause) == (self.probe, self.clause)

    def note(self) -> str:
        return f"known {self.kind} ({self.id}): {self.reason}"


def load_known() -> list[Finding]:
    findings = [
        Finding(
            f["id"],
            tuple(f["servers"]),
            tuple(f.get("modes", ("read-only", "writable"))),
            f["probe"],
            f["clause"],
            f["kind"],
            f["reason"],
            tuple(f["reproducers"]),
            f["shows"],
        )
        for f in _load("known.json")["findings"]
    ]
    for f in findings:
        if f.clause not in CLAUSES:
            raise ValueError(f"known finding {f.id} names unknown clause {f.clause}")
    if len({f.id for f in findings}) != len(findings):
        raise ValueError("known.json: duplicate finding id")
    return findings


def explain(findings: list[Finding], server: str, mode: str, probe: str, clause: str) -> Finding | None:
    return next((f for f in findings if f.covers(server, mode, probe, clause)), None)
