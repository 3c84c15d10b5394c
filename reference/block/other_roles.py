"""Which drivers reference/block/other_drivers.py models, and the roles QEMU gives their children."""

from __future__ import annotations

from reference.block.node import Node

OTHER_DRIVERS = frozenset({"quorum", "blkverify", "blkdebug", "throttle", "compress"})


def special(node: Node) -> bool:
    """Whether reference/block/other_query.py names the node (else filenames.display_filename's rules do)."""
    return node.driver in OTHER_DRIVERS or (node.driver == "null-co" and "size" in node.sticky_options)


def child_role(parent: Node, child: Node) -> str:
    """The child's role under a node of these drivers, as permission errors name it."""
    if parent.driver == "quorum":
        return f"children.{parent.extra_children.index(child)}"
    if parent.driver == "blkverify":
        return "test" if child is parent.extra_children[0] else "raw"
    return "image" if parent.driver == "blkdebug" else "file"


def attach_order(node: Node) -> list[Node]:
    """The node's children in the order QEMU attached them (11.1's "children" lists them newest
    first): blkverify opens 'raw' before 'test', which the model keeps first."""
    if node.driver == "blkverify":
        return list(reversed(node.extra_children))
    return node.children()
