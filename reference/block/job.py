"""Block jobs the model keeps between commands: an active commit waiting in "ready" (or
"standby" while paused), a non-active commit or a stream waiting for job-finalize ("pending") or
job-dismiss ("concluded"), and a rate-limited non-active commit ("running" or "paused")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reference.block.errors import BlockError, NotModelled
from reference.block.node import Node
from reference.qobject.patterns import ANY_INT, one_of
from reference.qobject.values import QDict, QObject

if TYPE_CHECKING:
    from reference.block.graph import BlockGraph

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
    speed: int = 0
    paused: bool = False  # paused by the user: "standby"
    completing: bool = False  # completed while in standby: it completes when resumed (qsd 7.2)

    @property
    def state(self) -> str:
        return "standby" if self.paused else "ready"


@dataclass(eq=False)
class ManualCommitJob:
    """A non-active commit or a stream started with auto-finalize or auto-dismiss false (qsd 7.2)."""

    job_id: str
    base: Node  # the node the job writes: a commit's base, a stream's device
    length: int  # the top's (a stream's device's) size: the job's progress, complete by now
    state: str  # "pending" (waits for job-finalize) or "concluded" (waits for job-dismiss)
    auto_finalize: bool
    auto_dismiss: bool
    finalize: Callable[[], None]  # the graph change QEMU makes when the job finalizes
    kind: str = "commit"  # the job's type: "commit" or "stream" (reference/block/stream.py)
    # While it waits: the backing links the job froze (parent, child), and the nodes whose
    # backing child is the job's implicit filter node (reopen refuses to touch either).
    frozen: list[tuple[Node, Node]] = field(default_factory=list)
    under_filter: list[Node] = field(default_factory=list)
    shown_filter: Node | None = None  # the job's filter node where the model shows it (a stream of a root)
    implicit_filter: bool = True  # False: the filter has a name (stream's filter-node-name)


@dataclass(eq=False)
class RateLimitedCommitJob:
    """A non-active commit started with a small speed (verified on qsd 7.2): it copies a chunk
    of at most 512 KiB, then sleeps for hours. Each wake-up (resume, a raised speed) copies
    one more chunk (7.2; from 8.0 on it sleeps on after the first chunk); whether the first
    chunk was copied before the first pause is a race, so its offset is one of two chunk ends
    (any integer where the data does not start at offset 0)."""

    job_id: str
    base: Node
    length: int
    speed: int
    auto_finalize: bool
    auto_dismiss: bool
    chunks: int  # at least this many chunks hold data: the job cannot finish in fewer wake-ups
    smallest: int  # the smallest chunk: with it the speed must still mean a sleep of hours
    finalize: Callable[[], None]
    restore: dict[Node, bool]  # the base's read-only flags before the commit reopened it
    wakeups: int = 1  # chunks the job may have copied so far
    paused: bool = False
    ends: tuple[int, ...] = ()  # where each chunk ends, if the data is one run from offset 0
    wake_up_copies: bool = True  # the profile's limited_job_wake_up_copies (False from 8.0 on)
    first_chunk_certain: bool = False  # woken once on 8.0 on: the first chunk's race is over
    kind: str = "commit"  # or "stream" (reference/block/rate_limited_stream.py)
    on_cancel: Callable[[], None] | None = None  # what a cancel undoes besides the restore flags

    def offsets(self) -> QObject:
        """Where the job got to: `wakeups` chunks, or one fewer (the first chunk's race)."""
        if not self.ends:
            return ANY_INT
        done = [0, *self.ends]
        if self.first_chunk_certain:
            return done[self.wakeups]
        return one_of(done[self.wakeups - 1], done[self.wakeups])

    @property
    def state(self) -> str:
        return "paused" if self.paused else "running"


Job = ActiveCommitJob | ManualCommitJob | RateLimitedCommitJob

# QEMU's JobVerbTable for the states the model keeps: which verbs each accepts.
_VERBS = {"pause", "resume", "set-speed", "cancel"}
ACCEPTS: dict[str, frozenset[str]] = {
    "running": frozenset(_VERBS),
    "paused": frozenset(_VERBS),
    "ready": frozenset({*_VERBS, "complete"}),
    "standby": frozenset({*_VERBS, "complete"}),
    "pending": frozenset({"cancel", "finalize"}),
    "concluded": frozenset({"dismiss"}),
}


def check_verb(job: Job, verb: str) -> None:
    if verb not in ACCEPTS[job.state]:
        raise BlockError(f"Job '{job.job_id}' in state '{job.state}' cannot accept command verb '{verb}'")


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


def writable_base(graph: BlockGraph, base: Node, *, always_reopens: bool) -> list[Node]:
    """The base and the children a commit takes along to read-write; its file must open for writing.

    A non-active commit always reopens the base (so asks the storage); an active one only when
    the base or its file is read-only or may fall back to read-only.
    """
    group = inheriting(base)
    file = base.file_child
    if base.driver != "qcow2" or file is None or file.driver != "file":
        raise NotModelled("block-commit: only a qcow2 base over a file node is modelled")
    if file not in group and file.read_only:
        # verified on qsd 7.2 (iotest 249): an explicitly read-only file stays read-only
        raise BlockError("Block node is read-only")
    if always_reopens or base.read_only or file.read_only or file.auto_read_only:
        error = graph.storage.open_error(file.filename, True)
        if error is not None:
            raise BlockError(f"Could not open '{file.filename}': {error}")
    return group
