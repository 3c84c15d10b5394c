"""What a block-stream leaves of its device's read-only state, by version.

QEMU reopens a read-only device read-write for the stream and, when the job ends, back to
read-only. 7.2 does (qsd and qemu-system, fixtures/block/cases/stream-245.json). 10.0 and 11.1
leave the device and the children it took along read-write (qsd and qemu-system on trixie and
sid: stream-245-middle, reopen-245-jobs-stream-4): the reopen back discards its error. A later
blockdev-reopen of such a device with "read-only": true then answers {} and may keep it
read-write (seen on qsd 10.0 for a backing child opened read-only; the same reopen of a
device added read-only works), so the oracle abstains on any reopen of it.
"""

from __future__ import annotations

from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.job import inheriting
from reference.block.node import Node


def read_only_group(device: Node) -> list[Node]:
    """What the stream reopens read-write, and back: the device and the children it takes along."""
    return inheriting(device) if device.read_only else []


def after_stream(graph: BlockGraph, group: list[Node]) -> None:
    """The job ended: `group` (read_only_group at its start) is read-only again, or (10.0 on) not."""
    if graph.profile.stream_restores_read_only:
        return
    for node in group:
        node.read_only = False
        graph.left_writable.add(node)


def check_reopen(graph: BlockGraph, nodes: list[Node]) -> None:
    for node in nodes:
        if node in graph.left_writable:
            raise NotModelled(f"blockdev-reopen of '{node.name}', which a stream left read-write (10.0 on)")
