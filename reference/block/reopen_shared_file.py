"""blockdev-reopen giving a qcow2 node a 'file' that other format nodes already use (iotest 245).

Pinned on qsd and qemu-system 7.2 (io-245.json, io-245-io-with-graph-changes):
reopening hd2 with hd0's file node is refused at the permission stage, after
every prepare error ("Cannot change the option ...", option checks), as a
permission conflict on the file: the reopened node becomes the newest user of
the file and unshares write and resize, which the writable qcow2 node already
there requires ("Permission conflict on node 'hd0-file': permissions 'write,
resize' are both required by node 'hd0' (uses node 'hd0-file' as 'file'
child) and unshared by node 'hd2' (uses node 'hd0-file' as 'file' child).").
QEMU's first conflicting pair decides (reference/block/permissions.py); a raw
node on the same file takes nothing and shares all. iotest 245 (written for
an earlier QEMU) expects "Cannot change the option 'file'" here instead.
Where no pair conflicts (every qcow2 user read-only) QEMU accepts the link:
two qcow2 nodes then share one image file, which the model does not follow.
"""

from __future__ import annotations

import dataclasses

from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.block.permissions import first_conflict, parent_user, users_of


def shareable(node: Node, file: Node) -> bool:
    """Whether the model can judge `node` (qcow2) joining the format nodes already over `file`."""
    return node.driver == "qcow2" and all(
        parent.file_child is file and parent.backing is not file and parent.driver in ("qcow2", "raw")
        for parent in file.parents
    )


def check_shared_file(graph: BlockGraph, node: Node, file: Node, read_only: bool) -> None:
    """The permission check on `file` once `node` (read-only or not, after the reopen) uses it."""
    newest = graph.next_seq()  # the link is made last: the reopened node is the newest user
    joining = dataclasses.replace(parent_user(node, [], read_only), seq=newest)
    conflict = first_conflict(file, [*users_of(file, graph.export_users()), joining])
    if conflict is not None:
        raise BlockError(conflict)
    raise NotModelled("blockdev-reopen: two qcow2 nodes sharing one image file are not modelled")
