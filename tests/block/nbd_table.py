"""QEMU as an NBD client: shape x export mode x read-only x auto-read-only, oracle against a binary.

Each cell adds one node (nbd, or raw over an inline nbd child) with
blockdev-add, reads query-named-block-nodes and removes the node again; it
agrees when both replies match the oracle's prediction. The oracle learns
the export's facts (read-only flag, size) from the live server through
HostStorage.nbd_export, as QEMU's client will see them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from block.fixture import BLOCK_DIR
from block.session import Session, Step

FIXTURE = BLOCK_DIR / "nbd-client.json"


def load_dimensions(path: Path = FIXTURE) -> dict[str, Any]:
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for key in ("shapes", "modes", "read-only", "auto-read-only"):
        assert isinstance(table.get(key), list) and table[key], f"{path}: {key} must be a non-empty list"
    return table


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

    @property
    def agrees(self) -> bool:
        return self.add.agrees and self.query.agrees


def cells(table: dict[str, Any], server: str, mode: str) -> Iterator[Cell]:
    for shape, ro, aro in itertools.product(table["shapes"], table["read-only"], table["auto-read-only"]):
        yield Cell(server, mode, shape, ro, aro)


def run_cell(session: Session, cell: Cell, index: int, socket: str, export: str) -> Outcome:
    name = f"n{index}"
    add = session.run({"execute": "blockdev-add", "arguments": cell.arguments(name, socket, export)})
    query = session.run({"execute": "query-named-block-nodes"})
    nodes = query.reply.get("return", []) if "return" in query.reply else []
    root = next((node for node in nodes if node.get("node-name") == name), None)
    child = next((node for node in nodes if node.get("drv") == "nbd" and node is not root), None)
    outcome = Outcome(
        cell, add, query, None if root is None else root["ro"], None if child is None else child["ro"]
    )
    if "return" in add.reply:
        session.run({"execute": "blockdev-del", "arguments": {"node-name": name}})
    return outcome


def _flag(value: bool | None) -> str:
    return "unset" if value is None else ("on" if value else "off")


def _show(o: Outcome) -> str:
    reply = o.add.reply
    if "error" in reply:
        text = f"error: {reply['error']['desc']}"
    else:
        text = f"ok, ro={json.dumps(o.ro)}"
        if o.cell.shape == "raw":
            text += f" (nbd ro={json.dumps(o.child_ro)})"
    return text + ("" if o.agrees else " **(oracle disagrees)**")


def render_markdown(outcomes: list[Outcome]) -> str:
    """One row per shape x read-only x auto-read-only, one column per server/export mode."""
    columns = list(dict.fromkeys(f"{o.cell.server} ({o.cell.mode})" for o in outcomes))
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for o in outcomes:
        key = (o.cell.shape, _flag(o.cell.read_only), _flag(o.cell.auto_read_only))
        rows.setdefault(key, {})[f"{o.cell.server} ({o.cell.mode})"] = _show(o)
    head = ["node", "read-only", "auto-read-only", *columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, by_column in rows.items():
        lines.append("| " + " | ".join([*key, *(by_column.get(c, "") for c in columns)]) + " |")
    lines.append("")
    lines.append(f"{sum(o.agrees for o in outcomes)} of {len(outcomes)} cells agree with the oracle.")
    return "\n".join(lines) + "\n"
