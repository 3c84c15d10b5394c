"""The seed's truth table: driver x storage x read-only x auto-read-only, oracle against a binary.

Each cell adds one node with blockdev-add, reads query-named-block-nodes and
removes the node again; it agrees when both replies match the prediction.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conformance.block.records import (
    STORAGE_SETUP,
    CellRecord,
    cell_id,
    flag,
    observed_error,
    opened,
    predicted_error,
    status_of,
)
from conformance.block.session import Session, Step


@dataclass(frozen=True)
class Cell:
    driver: str
    image: str
    storage: str
    read_only: bool | None
    auto_read_only: bool | None

    def arguments(self, name: str, path: str) -> dict[str, Any]:
        flags = {"read-only": self.read_only, "auto-read-only": self.auto_read_only}
        args: dict[str, Any] = {"driver": self.driver, "node-name": name}
        if self.driver == "file":
            args["filename"] = path
        else:
            args["file"] = {"driver": "file", "filename": path}
        args.update({key: value for key, value in flags.items() if value is not None})
        return args


@dataclass(frozen=True)
class Outcome:
    cell: Cell
    add: Step
    query: Step
    ro: bool | None  # the node's "ro" as the implementation reported it (None: not added)
    predicted_ro: bool | None
    sent: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        return self.add.agrees and self.query.agrees


def cells(table: dict[str, Any], storage: str) -> Iterator[Cell]:
    for spec, ro, aro in itertools.product(table["drivers"], table["read-only"], table["auto-read-only"]):
        yield Cell(spec["driver"], spec["image"], storage, ro, aro)


def run_cell(session: Session, cell: Cell, index: int, paths: dict[str, str]) -> Outcome:
    name = f"n{index}"
    first = len(session.sent)
    add = session.run({"execute": "blockdev-add", "arguments": cell.arguments(name, paths[cell.image])})
    query = session.run({"execute": "query-named-block-nodes"})
    ro, predicted = _ro(query.reply, name), predicted_ro(query, name)
    if "return" in add.reply:
        session.run({"execute": "blockdev-del", "arguments": {"node-name": name}})
    return Outcome(cell, add, query, ro, predicted, tuple(session.sent[first:]))


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
    detail = "\n".join(step.describe() for step in (add, o.query) if not step.agrees)
    cell = columns(o.cell, "blockdev-add")
    setup = f"# storage {o.cell.storage}: {STORAGE_SETUP[o.cell.storage]}; then over QMP:"
    return CellRecord("seed", cell_id("seed", cell), impl, version, cell, predicted, observed,
                      status_of(o.agrees), detail, [setup, *o.sent])  # fmt: skip


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
