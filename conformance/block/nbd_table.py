"""QEMU as an NBD client: shape x export mode x read-only x auto-read-only, oracle against a binary.

Each cell adds one node (nbd, or raw over an inline nbd child) with
blockdev-add, reads query-named-block-nodes and removes the node again; it
agrees when both replies match the oracle's prediction. The oracle learns
the export's facts (read-only flag, size) from the live server through
HostStorage.nbd_export, as QEMU's client will see them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.block.fixture import BLOCK_DIR
from conformance.block.records import (
    CellRecord,
    cell_id,
    flag,
    observed_error,
    opened,
    predicted_error,
    status_of,
)
from conformance.block.seed_table import predicted_ro
from conformance.block.session import Session, Step
from conformance.errors import QconformError
from conformance.jsonfile import read_json

FIXTURE = BLOCK_DIR / "nbd-client.json"


def load_dimensions(path: Path = FIXTURE) -> dict[str, Any]:
    table = read_json(path)
    for key in ("shapes", "modes", "read-only", "auto-read-only"):
        if not isinstance(table, dict) or not isinstance(table.get(key), list) or not table[key]:
            raise QconformError(f"{path}: {key} must be a non-empty list")
    return dict(table)


@dataclass(frozen=True)
class Cell:
    server: str
    mode: str
    shape: str
    read_only: bool | None
    auto_read_only: bool | None

    def arguments(self, name: str, socket: str, export: str) -> dict[str, Any]:
        nbd: dict[str, Any] = {"driver": "nbd", "server": {"type": "unix", "path": socket}, "export": export}
        args: dict[str, Any] = (
            {**nbd, "node-name": name}
            if self.shape == "nbd"
            else {"driver": "raw", "node-name": name, "file": nbd}
        )
        flags: dict[str, bool | None] = {"read-only": self.read_only, "auto-read-only": self.auto_read_only}
        args.update({key: value for key, value in flags.items() if value is not None})
        return args


@dataclass(frozen=True)
class Outcome:
    cell: Cell
    add: Step
    query: Step
    ro: bool | None  # the root node's "ro" as the binary reported it (None: not added)
    child_ro: bool | None  # raw's nbd child's "ro"
    predicted_ro: bool | None = None
    sent: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        return self.add.agrees and self.query.agrees


def cells(table: dict[str, Any], server: str, mode: str) -> Iterator[Cell]:
    for shape, ro, aro in itertools.product(table["shapes"], table["read-only"], table["auto-read-only"]):
        yield Cell(server, mode, shape, ro, aro)


def run_cell(session: Session, cell: Cell, index: int, socket: str, export: str) -> Outcome:
    name = f"n{index}"
    first = len(session.sent)
    add = session.run({"execute": "blockdev-add", "arguments": cell.arguments(name, socket, export)})
    query = session.run({"execute": "query-named-block-nodes"})
    nodes = query.reply.get("return", []) if "return" in query.reply else []
    root = next((node for node in nodes if node.get("node-name") == name), None)
    child = next((node for node in nodes if node.get("drv") == "nbd" and node is not root), None)
    ro, child_ro = (None if root is None else root["ro"]), (None if child is None else child["ro"])
    if "return" in add.reply:
        session.run({"execute": "blockdev-del", "arguments": {"node-name": name}})
    return Outcome(cell, add, query, ro, child_ro, predicted_ro(query, name), tuple(session.sent[first:]))


def columns(cell: Cell) -> dict[str, str]:
    return {"server": cell.server, "export": cell.mode, "node": cell.shape,
            "read-only": flag(cell.read_only), "auto-read-only": flag(cell.auto_read_only),
            "front end": "blockdev-add"}  # fmt: skip


def record(o: Outcome, impl: str, version: str) -> CellRecord:
    cell = columns(o.cell)
    error = predicted_error(o.add)
    if o.add.predicted is None:
        predicted = f"not modelled: {o.add.why_not}"
    else:
        predicted = f"error: {error}" if error is not None else opened(o.predicted_ro, o.cell.read_only)
    seen = observed_error(o.add)
    observed = f"error: {seen}" if seen is not None else opened(o.ro, o.cell.read_only)
    detail = "\n".join(step.describe() for step in (o.add, o.query) if not step.agrees)
    setup = f"# {o.cell.server} serving its export {o.cell.mode} on a unix socket; then over QMP:"
    return CellRecord("nbd-client", cell_id("nbd-client", cell), impl, version, cell, predicted, observed,
                      status_of(o.agrees), detail, [setup, *o.sent])  # fmt: skip
