"""The seed's truth table: driver x storage x read-only x auto-read-only, oracle against a binary.

Each cell adds one node with blockdev-add and reads query-named-block-nodes;
if the node opened, it then tries a writable and a read-only NBD export
(each removed again if it worked), reopens the node read-write and then
read-only (each followed by query-named-block-nodes) and removes it. The
cell agrees when every reply and event matches the prediction. The first
cell of a session starts the session's one NBD server, on a socket in the
storage's scratch folder.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.block.records import (
    STEP_COLUMNS,
    STORAGE_SETUP,
    CellRecord,
    cell_id,
    flag,
    observed_error,
    opened,
    predicted_error,
    status_of,
)
from conformance.block.reopen_request import reopen_request
from conformance.block.session import Session, Step


@dataclass(frozen=True)
class Cell:
    driver: str
    image: str
    storage: str
    read_only: bool | None
    auto_read_only: bool | None

    def arguments(self, name: str, path: str, child: str | None = None) -> dict[str, Any]:
        """blockdev-add's arguments; `child` names the inline file child (a reopen must name it)."""
        flags = {"read-only": self.read_only, "auto-read-only": self.auto_read_only}
        args: dict[str, Any] = {"driver": self.driver, "node-name": name}
        if self.driver == "file":
            args["filename"] = path
        else:
            args["file"] = {"driver": "file", "filename": path}
            if child is not None:
                args["file"]["node-name"] = child
        args.update({key: value for key, value in flags.items() if value is not None})
        return args

    def reopen(self, name: str, path: str, read_only: bool) -> dict[str, Any]:
        """blockdev-reopen's entry: the node as added, the child by name, read-only as asked."""
        args = self.arguments(name, path)
        if self.driver != "file":
            args["file"] = f"{name}-file"
        args["read-only"] = read_only
        return args


STEPS = STEP_COLUMNS["seed"]  # after blockdev-add, in order; each is a column in the report


@dataclass(frozen=True)
class Outcome:
    cell: Cell
    add: Step
    query: Step
    ro: bool | None  # the node's "ro" as the implementation reported it (None: not added)
    predicted_ro: bool | None
    sent: tuple[str, ...] = ()
    steps: dict[str, Step] = field(default_factory=dict)  # STEPS -> the step's command
    checks: tuple[Step, ...] = ()  # every other step: server start, removals, queries

    @property
    def agrees(self) -> bool:
        return all(step.agrees for step in (self.add, self.query, *self.steps.values(), *self.checks))


def cells(table: dict[str, Any], storage: str) -> Iterator[Cell]:
    for spec, ro, aro in itertools.product(table["drivers"], table["read-only"], table["auto-read-only"]):
        yield Cell(spec["driver"], spec["image"], storage, ro, aro)


def nbd_socket(paths: dict[str, str]) -> str:
    """The NBD server's socket: in the view's scratch folder, which QEMU (any uid) may write."""
    return str(Path(paths["missing"]).parent.parent / "scratch" / "nbd.sock")


def run_cell(session: Session, cell: Cell, index: int, paths: dict[str, str]) -> Outcome:
    name, path = f"n{index}", paths[cell.image]
    first = len(session.sent)
    checks: list[Step] = []
    if index == 0:
        address = {"type": "unix", "data": {"path": nbd_socket(paths)}}
        checks.append(session.run({"execute": "nbd-server-start", "arguments": {"addr": address}}))
    add = session.run({"execute": "blockdev-add", "arguments": cell.arguments(name, path, f"{name}-file")})
    query = session.run({"execute": "query-named-block-nodes"})
    ro, predicted = _ro(query.reply, name), predicted_ro(query, name)
    steps: dict[str, Step] = {}
    if "return" in add.reply:
        steps = try_steps(session, name, f"e{index}", functools.partial(cell.reopen, name, path), checks)
    return Outcome(cell, add, query, ro, predicted, tuple(session.sent[first:]), steps, tuple(checks))


def try_steps(
    session: Session, name: str, export_id: str, reopen: Callable[[bool], dict[str, Any]], checks: list[Step]
) -> dict[str, Step]:
    """Export the node rw and ro, reopen it rw and ro, delete it: the STEPS by label (others go to checks)."""
    steps: dict[str, Step] = {}
    for label, writable in (("export rw", True), ("export ro", False)):
        export = {"type": "nbd", "id": export_id, "node-name": name, "writable": writable}
        steps[label] = session.run({"execute": "block-export-add", "arguments": export})
        if "return" in steps[label].reply:
            checks.append(session.run({"execute": "query-block-exports"}))
            checks.append(session.run({"execute": "block-export-del", "arguments": {"id": export_id}}))
    for label, read_only in (("reopen rw", False), ("reopen ro", True)):
        entry = reopen(read_only)
        steps[label] = session.run(reopen_request(session.graph.profile, entry))
        checks.append(session.run({"execute": "query-named-block-nodes"}))
    steps["del"] = session.run({"execute": "blockdev-del", "arguments": {"node-name": name}})
    return steps


def columns(cell: Cell, front_end: str = "blockdev-add") -> dict[str, str]:
    return {"driver": cell.driver, "storage": cell.storage, "read-only": flag(cell.read_only),
            "auto-read-only": flag(cell.auto_read_only), "front end": front_end}  # fmt: skip


def record(o: Outcome, impl: str, version: str) -> CellRecord:
    """The cell for the results file: the oracle's verdict, the implementation's, and the transcript."""
    add = o.add
    error = predicted_error(add)
    if add.predicted is None:
        predicted = f"not modelled: {add.why_not}"
    else:
        predicted = f"error: {error}" if error is not None else opened(o.predicted_ro, o.cell.read_only)
    seen = observed_error(add)
    observed = f"error: {seen}" if seen is not None else opened(o.ro, o.cell.read_only)
    everything = (add, o.query, *o.steps.values(), *o.checks)
    detail = "\n".join(step.describe() for step in everything if not step.agrees)
    cell = columns(o.cell, "blockdev-add")
    setup = f"# storage {o.cell.storage}: {STORAGE_SETUP[o.cell.storage]}; then over QMP:"
    steps = {label: step_outcome(o.steps.get(label)) for label in STEPS}
    return CellRecord("seed", cell_id("seed", cell), impl, version, cell, predicted, observed,
                      status_of(o.agrees), detail, [setup, *o.sent], steps=steps)  # fmt: skip


def step_outcome(step: Step | None) -> str:
    """A step's column: what the implementation answered, marked where the oracle said otherwise."""
    if step is None:
        return "not run"
    seen = observed_error(step)
    text = "ok" if seen is None else f"error: {seen}"
    if step.agrees:
        return text
    if step.predicted is None:
        return f"{text} (oracle: not modelled)"
    error = predicted_error(step)
    return f"{text} (oracle: {'ok' if error is None else 'error: ' + error})"


def _ro(reply: Any, name: str) -> bool | None:
    nodes = reply.get("return", []) if isinstance(reply, dict) else []
    return next((node["ro"] for node in nodes if node.get("node-name") == name), None)


def predicted_ro(query: Step, name: str) -> bool | None:
    """The node's "ro" in the oracle's predicted query-named-block-nodes reply."""
    if query.predicted is None:
        return None
    text = query.predicted.texts[0] if query.predicted.exact else None
    if text is None:  # wildcards: read the QObject itself
        body = query.predicted.message.body.get("return")
        nodes = body if isinstance(body, list) else []
        for node in nodes:
            if hasattr(node, "get") and node.get("node-name") == name:
                value = node.get("ro")
                return value if isinstance(value, bool) else None
        return None
    return _ro(json.loads(text), name)
