"""What the stateful machine's rule mixins (option_rules.py, driver_rules.py) use of the machine."""

from __future__ import annotations

from typing import Any

from hypothesis import event

from block.session import Session, Step
from block.stateful.pool import Pool
from reference.block.node import Node


class MachineBase:
    session: Session
    pool: Pool
    kinds: dict[str, str]  # root node name -> image kind
    counter: int

    def _check(self, step: Step) -> Step:
        raise NotImplementedError

    def _reopenable(self) -> list[str]:
        raise NotImplementedError

    def _reopen(self, shape: str, entries: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def _in_use(self) -> set[str]:
        raise NotImplementedError

    def _subtree(self, node: Node) -> list[Node]:
        raise NotImplementedError

    def _fresh_name(self) -> str:
        self.counter += 1
        return f"n{self.counter}"

    def _named(self) -> list[str]:
        """Every node the monitor knows by a name it was given (QEMU's made-up names are not told)."""
        return sorted(node.name for node in self.session.graph.nodes if not node.auto_named)


def add_command(pool: Pool, kind: str, name: str, read_only: bool | None, aro: bool | None) -> dict[str, Any]:
    """blockdev-add of a pool image with an inline file child named NAME + "f"."""
    image = pool.images[kind]
    file: dict[str, Any] = {"driver": "file", "node-name": f"{name}f", "filename": image.path}
    if aro is not None:
        file["auto-read-only"] = aro
    args: dict[str, Any] = {"driver": image.driver, "node-name": name, "file": file}
    if read_only is not None:
        args["read-only"] = read_only
    return {"execute": "blockdev-add", "arguments": args}


def reached(shape: str, step: Step) -> None:
    """Tell hypothesis which shapes a run reached and how they ended (--hypothesis-show-statistics)."""
    reply = step.reply
    error = reply.get("error", {}).get("desc", "") if "error" in reply else ""
    outcome = "ok" if not error else error.split("'")[0].strip()
    event(f"{shape}: {outcome}")


def reopen_entry(node: Node, read_only: bool | None, aro: bool | None = None) -> dict[str, Any]:
    """A reopen entry naming the node's file child as it is (and no backing)."""
    assert node.file_child is not None
    entry: dict[str, Any] = {"driver": node.driver, "node-name": node.name, "file": node.file_child.name}
    if read_only is not None:
        entry["read-only"] = read_only
    if aro is not None:
        entry["auto-read-only"] = aro
    if node.driver == "qcow2":
        entry["backing"] = None
    return entry
