"""Which error a blockdev-reopen reports when one node cannot open read-write and another is read-only.

Seen on qsd and qemu-system 7.2 (fixtures/block/regressions.json,
regression-backing-entry-refresh-order): QEMU checks the queued nodes' permissions node by node,
parents before children, and a file node reopens its fd read-write as its own check runs; so
"Block node is read-only" (a writer over a node that stays or goes read-only) is reported before
"Could not open" (a file that cannot open read-write): in [bf, t, b] and inline options tf
comes before bf in that order, but in [b, t] bf comes first and the read-only error still wins.

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
    """Whether QEMU reports a read-only node under a writer rather than a file that cannot open
    read-write. Seen so far: it does whenever both arise, wherever the file is in `order`
    (regression-backing-entry-refresh-order's queues); the order is kept to pin the next case."""
    del cannot_open  # the read-only error won in every queue tried
    return any(read_only_under_writer(node) for node in order)
