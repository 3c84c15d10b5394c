"""One truth-table cell on one implementation, as the results file keeps it.

A cell's columns say what was asked (driver, storage, flags, front end); its
prediction and observation are short verdicts people can read ("read-write",
"degraded to read-only", "error: MESSAGE"); status says whether they agree.
The reproducer is what to type to see it again: the QMP commands sent, or
the command line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from conformance.block.session import Step
from conformance.divergences import Divergence
from conformance.runner import CRASH, DIVERGE, PASS

# family -> (title, columns in order); the report renders one table per family.
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "seed": (
        "Seed: driver × storage × read-only × auto-read-only, then export rw/ro and reopen rw/ro",
        ("driver", "storage", "read-only", "auto-read-only", "front end"),
    ),
    "front-ends": (
        "Front ends: the seed's cells on the command line, then HMP info block (qemu-system),"
        " export rw/ro, reopen rw/ro, del over QMP",
        ("driver", "storage", "read-only", "auto-read-only", "front end"),
    ),
    "chain": (
        "Chain: reopen or commit into a base on each storage",
        ("storage", "base file auto-read-only", "action", "front end"),
    ),
    "nbd-client": (
        "QEMU as an NBD client",
        ("server", "export", "node", "read-only", "auto-read-only", "front end"),
    ),
}
# family -> the steps after the first command, each a column of its own in the report.
STEP_COLUMNS: dict[str, tuple[str, ...]] = {
    "seed": ("export rw", "export ro", "reopen rw", "reopen ro", "del"),
    "front-ends": ("info block -n", "info block", "export rw", "export ro", "reopen rw", "reopen ro", "del"),
}
# The HMP steps (iotest 232 reads `info block -n`): only qemu-system has HMP.
HMP_STEPS = ("info block -n", "info block")
NOT_APPLICABLE = "not applicable"
STORAGE_SETUP = {
    "writable": "images in a fresh folder, mode 0644",
    "read-only-mount": "the images through a read-only bind mount",
    "unprivileged": "QEMU as uid/gid 65534 without groups, images mode 0444 owned by root",
}


@dataclass
class CellRecord:
    family: str
    id: str  # the key in fixtures/divergences.json
    implementation: str
    version: str
    cell: dict[str, str]
    predicted: str
    observed: str
    status: str
    detail: str = ""
    reproducer: list[str] = field(default_factory=list)
    known: dict[str, Any] | None = None
    steps: dict[str, str] = field(default_factory=dict)  # step column -> outcome (seed: export, reopen)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def explain(self, known: dict[tuple[str, str], Divergence]) -> CellRecord:
        """Attach the recorded divergence for this cell, if there is one."""
        entry = known.get((self.id, self.implementation))
        if entry is not None:
            self.known = {"kind": entry.kind, "reason": entry.reason}
        return self


def flag(value: bool | None) -> str:
    return "unset" if value is None else ("on" if value else "off")


def cell_id(family: str, cell: dict[str, str]) -> str:
    return (
        "block-" + family + "/" + "/".join(f"{key.replace(' ', '-')}={value}" for key, value in cell.items())
    )


def opened(ro: bool | None, asked_read_only: bool | None) -> str:
    if ro is None:
        return "opened, node not found"
    if not ro:
        return "read-write"
    return "read-only" if asked_read_only else "degraded to read-only"


def predicted_error(step: Step) -> str | None:
    """The error text the oracle predicts for this step (None: success or abstention)."""
    if step.predicted is None:
        return None
    error = step.predicted.message.body.get("error")
    if error is None or not hasattr(error, "get"):
        return None
    return str(error.get("desc"))


def observed_error(step: Step) -> str | None:
    reply = step.reply
    return str(reply["error"]["desc"]) if "error" in reply else None


def status_of(agrees: bool) -> str:
    return PASS if agrees else DIVERGE


def crashed_cells(
    family: str, impl: str, version: str, cells: list[dict[str, str]], report: str
) -> list[CellRecord]:
    """Cells that could not run because the process died (or would not start) on the way."""
    return [
        CellRecord(family, cell_id(family, c), impl, version, c, "", "crash", CRASH, report[:2000])
        for c in cells
    ]
