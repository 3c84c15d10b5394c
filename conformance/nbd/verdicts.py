"""Probe results: one verdict per (probe, clause), with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from conformance.nbd.session import ProbeError
from reference.nbd.clauses import CLAUSES, Strength


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # a MUST broken
    WARN = "warn"  # a SHOULD not followed (or a MAY the harness expected)
    NA = "n/a"


@dataclass(frozen=True)
class Result:
    probe: str
    clause: str
    verdict: Verdict
    reason: str
    known: str | None = None  # a known finding's note (fixtures/nbd/known.json); never changes the verdict

    def as_dict(self) -> dict[str, str]:
        out = {
            "probe": self.probe,
            "clause": self.clause,
            "verdict": self.verdict.value,
            "reason": self.reason,
        }
        if self.known is not None:
            out["known"] = self.known
        return out


def broken(clause_id: str) -> Verdict:
    return Verdict.FAIL if CLAUSES[clause_id].strength is Strength.MUST else Verdict.WARN


@dataclass
class Recorder:
    """Collects a probe's verdicts; a clause may be checked several times (every check is kept)."""

    probe: str
    clauses: tuple[str, ...]
    results: list[Result] = field(default_factory=list)

    def check(self, clause_id: str, ok: bool, reason: str) -> bool:
        assert clause_id in CLAUSES, clause_id
        verdict = Verdict.PASS if ok else broken(clause_id)
        self.results.append(Result(self.probe, clause_id, verdict, reason))
        return ok

    def na(self, clause_id: str, reason: str) -> None:
        assert clause_id in CLAUSES, clause_id
        self.results.append(Result(self.probe, clause_id, Verdict.NA, reason))

    def abort(self, err: ProbeError) -> None:
        """The conversation broke: blame the clause it names, or every clause not judged yet."""
        if err.clause is not None:
            self.check(err.clause, False, str(err))
        for clause_id in self.clauses:
            if not self._judged(clause_id):
                self.results.append(Result(self.probe, clause_id, broken(clause_id), f"probe stopped: {err}"))

    def finish(self) -> list[Result]:
        for clause_id in self.clauses:
            if not self._judged(clause_id):
                self.na(clause_id, "not reached in this mode")
        return self.results

    def _judged(self, clause_id: str) -> bool:
        return any(r.clause == clause_id for r in self.results)
