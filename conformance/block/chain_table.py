"""The second table: base storage x the base's file node auto-read-only x action, oracle against a binary.

The management tool's model of the seed: the base's file node is added on its
own (read-write unless auto-read-only lets it degrade), the qcow2 base over it
read-only, an intermediate and an active layer on scratch storage. The action
either reopens the base read-write or commits the intermediate into it. Every
reply and event must match the oracle; the image on read-only storage (and
every base the action did not write) must keep every byte, and a base a
commit wrote must read back the intermediate's data.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conformance.block.records import STORAGE_SETUP, CellRecord, cell_id, flag, predicted_error, status_of
from conformance.block.reopen_request import reopen_request
from conformance.block.session import Session, Step
from conformance.storage import checksum, reads_pattern
from reference.profiles import Profile

SETUP = "setup"
SETUP_STEPS = 4  # blockdev-adds before the action


@dataclass(frozen=True)
class Cell:
    storage: str
    auto_read_only: bool | None
    action: str


@dataclass(frozen=True)
class Outcome:
    cell: Cell
    steps: tuple[Step, ...]
    result: str  # what the implementation answered, in a few words
    data_ok: bool
    sent: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        return all(step.agrees for step in self.steps) and self.data_ok


def cells(table: dict[str, Any]) -> Iterator[Cell]:
    dims = (table["storages"], table["auto-read-only"], table["actions"])
    for storage, aro, action in itertools.product(*dims):
        yield Cell(storage, aro, action)


def setup_commands(cell: Cell, paths: dict[str, str]) -> list[dict[str, Any]]:
    base_file: dict[str, Any] = {"driver": "file", "node-name": "base-file", "filename": paths["base"]}
    if cell.auto_read_only is not None:
        base_file["auto-read-only"] = cell.auto_read_only
    mid_file = {"driver": "file", "node-name": "mid-file", "filename": paths["scratch/mid"]}
    top_file = {"driver": "file", "node-name": "top-file", "filename": paths["scratch/top"]}
    return [
        {"execute": "blockdev-add", "arguments": base_file},
        {"execute": "blockdev-add", "arguments": {"driver": "qcow2", "node-name": "base", "read-only": True,
                                                  "file": "base-file"}},
        {"execute": "blockdev-add", "arguments": {"driver": "qcow2", "node-name": "mid", "read-only": True,
                                                  "backing": "base", "file": mid_file}},
        {"execute": "blockdev-add", "arguments": {"driver": "qcow2", "node-name": "top", "backing": "mid",
                                                  "file": top_file}},
    ]  # fmt: skip


def action_command(cell: Cell, profile: Profile) -> dict[str, Any]:
    if cell.action == "reopen":
        entry = {"driver": "qcow2", "node-name": "base", "file": "base-file", "read-only": False}
        return reopen_request(profile, entry)
    args = {"job-id": "commit0", "device": "top", "top-node": "mid", "base-node": "base"}
    return {"execute": "block-commit", "arguments": args}


def run_cell(session: Session, cell: Cell, paths: dict[str, str], sources: dict[str, str],
             mid_data: dict[str, int]) -> Outcome:  # fmt: skip
    before = checksum(sources["base"])
    steps: list[Step] = []
    for command in setup_commands(cell, paths):
        steps.append(session.run(command))
        if "error" in steps[-1].reply:
            kept = checksum(sources["base"]) == before
            return Outcome(cell, tuple(steps), f"add fails: {_desc(steps[-1])}", kept, tuple(session.sent))
    action = session.run(action_command(cell, session.graph.profile))
    steps += [action, session.run({"execute": "query-named-block-nodes", "arguments": {"flat": True}})]
    written = cell.action == "commit" and "return" in action.reply
    if written:
        args = (mid_data["pattern"], mid_data["offset"], mid_data["length"])
        data_ok = reads_pattern(sources["base"], "qcow2", *args)
    else:
        data_ok = checksum(sources["base"]) == before
    result = "ok" if "return" in action.reply else _desc(action)
    if written:
        result += " (base holds the data)"
    return Outcome(cell, tuple(steps), result, data_ok, tuple(session.sent))


def _predicted(o: Outcome) -> str:
    for index, step in enumerate(o.steps):
        if step.predicted is None:
            return f"not modelled: {step.why_not}"
        error = predicted_error(step)
        if error is not None:
            short = error.split(": ")[-1]
            return f"add fails: {short}" if index < SETUP_STEPS else short
    return "ok (base holds the data)" if o.cell.action == "commit" else "ok"


def columns(cell: Cell) -> dict[str, str]:
    return {"storage": cell.storage, "base file auto-read-only": flag(cell.auto_read_only),
            "action": cell.action, "front end": "blockdev-add"}  # fmt: skip


def record(o: Outcome, impl: str, version: str) -> CellRecord:
    cell = columns(o.cell)
    observed = o.result if o.data_ok else f"{o.result}; the base's data is not as it should be"
    detail = "\n".join(step.describe()[:1500] for step in o.steps if not step.agrees)
    setup = f"# storage {o.cell.storage}: {STORAGE_SETUP[o.cell.storage]}; then over QMP:"
    return CellRecord("chain", cell_id("chain", cell), impl, version, cell, _predicted(o), observed,
                      status_of(o.agrees), detail, [setup, *o.sent])  # fmt: skip


def _desc(step: Step) -> str:
    return str(step.reply["error"]["desc"]).split(": ")[-1]
