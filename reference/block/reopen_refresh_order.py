"""Which error a blockdev-reopen reports when one node cannot open read-write and another is read-only.

Seen on qsd and qemu-system 7.2 (fixtures/block/regressions.json,
regression-backing-entry-refresh-order): QEMU checks the queued nodes' permissions node by node,
parents before children, and a file node reopens its fd read-write as its own check runs; so
the first node in that order decides between "Block node is read-only" (a writer over a node
that stays or goes read-only) and "Could not open" (a file that cannot open read-write).

The order: the queue (each entry's node, then the children it opened, file before backing,
depth first, a node queued once), reversed, each node then put before all it reaches (depth
first, children file before backing). Used where a backing child has its own entry
(reference/block/reopen_backing_entry.py) or inline options (reopen_inline_backing.py,
regression-inline-backing-refresh-order); other queues check every open first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reference.block.node import Node


def refresh_order(entries: Iterable[Node]) -> list[Node]:
    queue: list[Node] = []
    for node in entries:
        _queue(node, queue)
    found: set[Node] = set()
    order: list[Node] = []
    for node in reversed(queue):
        order = _depth_first(node, found, order)
    return order


def _queue(node: Node, queue: list[Node]) -> None:
    if node not in queue:
        queue.append(node)
    for child in node.children():
        if child.inherits_from is node:
            _queue(child, queue)


def _depth_first(node: Node, found: set[Node], order: list[Node]) -> list[Node]:
    if node in found:
        return order
    found.add(node)
    for child in node.children():
        order = _depth_first(child, found, order)
    return [node, *order]


def read_only_first(
    order: list[Node], read_only_under_writer: Callable[[Node], bool], cannot_open: Callable[[Node], bool]
) -> bool:
    """Whether a read-only node under a writer comes before a file that cannot open read-write."""
    for node in order:
        if read_only_under_writer(node):
            return True
        if cannot_open(node):
            return False
    return False
