"""Which drivers reference/block/other_drivers.py models, and the roles QEMU gives their children."""

from __future__ import annotations

from reference.block.node import Node

OTHER_DRIVERS = frozenset({"quorum", "blkverify", "blkdebug", "throttle", "compress"})


def child_role(parent: Node, child: Node) -> str:
    """The child's role under a node of these drivers, as permission errors name it."""
    if parent.driver == "quorum":
        return f"children.{parent.extra_children.index(child)}"
    if parent.driver == "blkverify":
        return "test" if child is parent.extra_children[0] else "raw"
    return "image" if parent.driver == "blkdebug" else "file"
