"""A block job the model keeps between commands: an active commit waiting in "ready"."""

from __future__ import annotations

from dataclasses import dataclass, field

from reference.block.node import Node
from reference.qobject.values import QDict

# The op blocker a job puts on its nodes (QEMU: "block device is in use by block job: %s").
JOB_BLOCKER = "block device is in use by block job: commit"


@dataclass(eq=False)
class ActiveCommitJob:
    job_id: str
    top: Node
    base: Node
    filter: Node  # the mirror_top node QEMU puts above the top while the job runs
    length: int  # bytes to copy: the data above the base, in whole granules
    blocked: list[Node] = field(default_factory=list)  # nodes carrying the job's op blocker
    restore: dict[Node, bool] = field(default_factory=dict)  # read-only flags to put back at the end


def chain(node: Node) -> list[Node]:
    """The node and its backing nodes, top down."""
    found = [node]
    while (below := found[-1].backing) is not None:
        found.append(below)
    return found


def status(job_id: str, state: str) -> QDict:
    return QDict({"id": job_id, "status": state})


def inheriting(node: Node) -> list[Node]:
    """The node and the children a reopen takes along: inline/implicit ones without their own read-only."""
    found = [node]
    for child in node.children():
        if child.inherits_from is node and not child.read_only_explicit:
            found += inheriting(child)
    return found
