"""blockdev-reopen of several qcow2 nodes that trade their 'file' children (iotest 245's
test_swap_files).

Pinned on qsd and qemu-system 7.2 (fixtures/block/cases/iotest-245.json, iotest-245-swap-files):
one node taking another's file alone is a permission conflict (reference/block/reopen_shared_file.py),
but a queue whose entries hand the files round among themselves is accepted: QEMU links every
new child before it refreshes the permissions, and then each file has one user again. Each node
keeps the header it read and reads its new file's data. Only the plain trade is modelled: every
entry names a file node another queued node leaves, none of them has parents, a backing node
or other changes.
"""

from __future__ import annotations

from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.qobject.values import QDict


def traded_files(graph: BlockGraph, merged: dict[Node, QDict]) -> dict[Node, Node]:
    """Each queued node's new file where the queue is such a trade; else empty."""
    if len(merged) < 2:
        return {}
    new: dict[Node, Node] = {}
    for node, entry in merged.items():
        ref = entry.get("file")
        found = graph.find(ref) if isinstance(ref, str) else None
        plain = node.driver == "qcow2" and not node.parents and node.backing is None and node.backend is None
        if found is None or found is node.file_child or not plain or found.driver != "file":
            return {}
        if (
            node.image is None
            or node.image.backing_file
            or set(entry.keys()) - {"driver", "node-name", "file"}
        ):
            return {}
        new[node] = found
    leaving = {node.file_child for node in new}
    for file in new.values():
        if file not in leaving or any(
            parent not in new or parent.file_child is not file for parent in file.parents
        ):
            return {}
        if graph.exported(file) or file.backend is not None:
            return {}
    if len(set(new.values())) != len(new):
        return {}
    return new
