"""blockdev-reopen putting a throttle filter between a format node and its file, and taking it
out again (iotest 245's test_insert_throttle_filter).

Pinned on qsd and qemu-system 7.2 (fixtures/block/cases/iotest-245.json,
iotest-245-insert-throttle-filter): a throttle node added over a format node's file takes
nothing while nobody uses it (reference/block/other_drivers.py), so the format node may take it
as its new 'file' (the filter then passes the node's permissions down to the same file), and
may take the file back, leaving the filter without users. Only these two moves are modelled.
"""

from __future__ import annotations

from reference.block.node import Node

FILTERS = frozenset({"throttle", "compress"})  # (a compress filter goes over the format node itself)


def inserts_filter(node: Node, found: Node) -> bool:
    """`found` is an unused throttle node over the node's own file."""
    return found.driver in FILTERS and not found.parents and found.file_child is node.file_child


def removes_filter(node: Node, found: Node) -> bool:
    """The node's file is a throttle node it alone uses, over `found`."""
    current = node.file_child
    return (
        current is not None and current.driver in FILTERS and current.parents == [node]
        and current.file_child is found
    )  # fmt: skip


def filter_move(node: Node, found: Node) -> bool:
    return node.driver in ("qcow2", "raw") and (inserts_filter(node, found) or removes_filter(node, found))
