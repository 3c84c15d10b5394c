"""Users of throttle nodes and read-only changes of throttle nodes and their files.

Pinned on qsd and qemu-system 7.2 (fixtures/block/cases/throttle-users.json):

- A throttle node hands its users' permissions to its 'file' child as they are: all they take,
  only what they all share (reference/block/permissions.py child_user); without users it takes
  nothing. So an export of the file beside a qcow2 node over the throttle node conflicts with
  the throttle node ("... unshared by node 't0' (uses node 'f0' as 'file' child)"), and an
  export of the throttle node conflicts with the qcow2 node over it.
- block-export-add of a throttle node (reference/block/exports.py): the export's size is its
  child's; a writable one passes its write down: a read-only child is "Block node is read-only",
  an auto-read-only file that cannot open for writing "Could not open ..."; a read-only throttle
  node is "Cannot export read-only node as writable", as any node.
- blockdev-reopen: a throttle node goes read-only and back; a file it opened inline without a
  read-only of its own takes the flag the entry gives (as a format node's file does,
  reference/block/job.py inheriting), one added by name keeps its own. Under a
  writer (a writable export, a writable qcow2 node), the first node of the chain going read-only
  is "Read-only block node '%s' cannot support read-write users" (a node already read-only: "Block
  node is read-only"), the throttle node and its file alike.
"""

from __future__ import annotations

from collections.abc import Callable

from reference.block.node import Node

PASS_DOWN = frozenset({"raw", "throttle"})  # nodes handing their users' write to their file


def write_path(node: Node) -> list[Node]:
    """The nodes a write into `node` reaches: it, then down through raw and throttle nodes."""
    path = [node]
    while path[-1].driver in PASS_DOWN and path[-1].file_child is not None:
        child = path[-1].file_child
        assert child is not None
        path.append(child)
    return path


def first_read_only(node: Node, read_only: Callable[[Node], bool]) -> Node | None:
    """The first node on the write path from `node` that is (or goes) read-only; None: none is."""
    return next((reached for reached in write_path(node) if read_only(reached)), None)
