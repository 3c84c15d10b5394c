"""blockdev-reopen while a block job waits (QEMU 7.2, iotest 245's job tests).

A job waiting for job-finalize ("pending") is not paused by the reopen's
drain: no events. A ready active commit is: "standby" and "ready" before the
reply, once every entry's node was found, whatever the reopen's outcome.
Verified on qsd and qemu-system 7.2 (fixtures/block/cases/reopen-245-jobs.json):
- a backing link the job froze cannot be changed: "Cannot change frozen
  'backing' link from '%s' to '%s'" (a stream freezes the links from its
  device down to the node above its base, a commit those from its top down to
  its base, an active commit those from the active layer down to its base);
- a node whose backing child is the job's implicit filter (a stream's
  copy-on-read above its device, a non-active commit's commit_top above its
  top) keeps it when 'backing' names the node under the filter; null or
  another name is "Cannot replace implicit backing child of %s";
- inline 'backing' options for a node without a backing child, or whose
  child is an implicit filter, are all left over: QEMU names the first of
  them (flattened, in its QDict's order) in "Cannot change the option '%s'";
  options naming another node than the backing child (which has no backing
  child) go to that child: its own leftovers and its new node-name (also
  without a job, iotest 245's test_block_stream_2);
- making a waiting stream's device read-only: the filter writes to it, "Read-only
  block node '%s' cannot support read-write users"; other new read-only flags abstain.
Anything else while a job waits abstains.
"""

from __future__ import annotations

from itertools import pairwise

from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.job import ActiveCommitJob, ManualCommitJob, chain, status
from reference.block.node import Node
from reference.block.reopen_inline_backing import own_child, self_named
from reference.qobject.values import QDict, QNull, bucket_of

KEEP = object()  # the node keeps its backing link: the caller's own checks do not apply


Waiting = ManualCommitJob | ActiveCommitJob


def jobs_waiting(graph: BlockGraph) -> list[Waiting]:
    """The jobs waiting in "pending" or "ready"; abstains on any other (running, paused) job."""
    waiting: list[Waiting] = []
    for job in graph.jobs.values():
        pending = isinstance(job, ManualCommitJob) and job.state == "pending"
        if not (pending or (isinstance(job, ActiveCommitJob) and not job.paused)):
            raise NotModelled("blockdev-reopen while a block job runs is not modelled")
        assert isinstance(job, ManualCommitJob | ActiveCommitJob)
        waiting.append(job)
    return waiting


def drain(graph: BlockGraph) -> None:
    """The reopen's drain pauses a ready job and resumes it, before the reply."""
    for job in jobs_waiting(graph):
        if isinstance(job, ActiveCommitJob):
            for state in ("standby", "ready"):
                graph.emit("JOB_STATUS_CHANGE", status(job.job_id, state), "before")


def _frozen(job: Waiting) -> list[tuple[Node, Node]]:
    if isinstance(job, ManualCommitJob):
        return job.frozen
    layers = chain(job.top)
    return list(pairwise(layers))[: layers.index(job.base)]


def _under_filter(job: Waiting) -> list[Node]:
    # a parent that dropped a named filter is no longer above it
    return [n for n in job.under_filter if n.backing is not None] if isinstance(job, ManualCommitJob) else []


def check_backing(graph: BlockGraph, node: Node, entry: QDict) -> object | None:
    """KEEP, None (the usual checks follow), the child's new link (inline options naming the
    node's backing child: reference/block/reopen_inline_backing.py) or QEMU's error."""
    waiting = jobs_waiting(graph)
    given = entry.get("backing")
    if isinstance(given, QDict):
        if node.backing is None or any(node in _under_filter(job) for job in waiting):
            if node.auto_named or not node.name_in_options or entry.get("driver") != node.driver:
                raise NotModelled("blockdev-reopen: leftover backing options with other changes")
            raise BlockError(f"Cannot change the option '{_first_key(given, 'backing.')}'")
        child, inner = node.backing, given.get("backing")
        if child.inherits_from is None and not waiting:
            # a child the monitor opened is not queued with the node: its options are left over
            raise BlockError(f"Cannot change the option '{_first_key(given, 'backing.')}'")
        if given.get("node-name") == child.name or self_named(child, given):
            relink = own_child(node, entry, given)
            if relink is None:
                return KEEP
            for job in waiting:
                if (child, child.backing) in _frozen(job):
                    assert child.backing is not None, "a frozen link has a node below"
                    raise BlockError(
                        f"Cannot change frozen 'backing' link from '{child.name}' to '{child.backing.name}'"
                    )
            return relink
        if waiting or child.backing is not None:
            raise NotModelled("blockdev-reopen: inline 'backing' for the node's own child is not modelled")
        if not isinstance(inner, QDict):
            raise NotModelled("blockdev-reopen: inline options naming another node are not modelled")
        # they go to the child, which has no backing child: its own ones are left over, with its new name
        renamed = ["node-name", *(["driver"] if given.get("driver") != child.driver else [])]
        raise BlockError(f"Cannot change the option '{_first_key(inner, 'backing.', renamed)}'")
    for job in waiting:
        if node in _under_filter(job):
            assert node.backing is not None, "the filter's parent has it as its backing child"
            if isinstance(given, str) and given == node.backing.name:
                return KEEP
            if "backing" not in entry:
                raise NotModelled("blockdev-reopen: no 'backing' above a job's filter is not modelled")
            if isinstance(job, ManualCommitJob) and not job.implicit_filter:
                # QEMU lets a parent drop a filter the user named (245's test_block_stream_4); the
                # job keeps its device
                if isinstance(given, QNull):
                    return None
                raise NotModelled("blockdev-reopen: a new backing above a job's named filter is not modelled")
            raise BlockError(f"Cannot replace implicit backing child of {node.name}")
        old = node.backing
        changed = "backing" in entry and (isinstance(given, QNull) or (old is not None and given != old.name))
        if old is not None and changed and (node, old) in _frozen(job):
            raise frozen_error(node, old)
    return None


def frozen_error(upper: Node, lower: Node) -> BlockError:
    return BlockError(f"Cannot change frozen 'backing' link from '{upper.name}' to '{lower.name}'")


def check_flags(graph: BlockGraph, node: Node, read_only: bool, auto_read_only: bool) -> None:
    """A waiting stream's filter writes to its device: it cannot go read-only. Other changes of
    read-only flags meet the job's own permissions: not modelled."""
    for job in jobs_waiting(graph):
        if isinstance(job, ManualCommitJob) and job.kind == "stream" and job.base is node and read_only:
            raise BlockError(f"Read-only block node '{node.name}' cannot support read-write users")
    if graph.jobs and (read_only, auto_read_only) != (node.read_only, node.auto_read_only):
        raise NotModelled("blockdev-reopen: new read-only flags while a job waits are not modelled")


def _first_key(options: QDict, prefix: str, others: list[str] | None = None) -> str:
    """The first of the flattened options (and others) in QEMU's QDict order (bucket order, newest
    first within one)."""
    keys: list[str] = [*(others or []), *_flattened(options, prefix)]
    first: str = sorted(reversed(keys), key=bucket_of)[0]
    return first


def _flattened(options: QDict, prefix: str) -> list[str]:
    keys: list[str] = []
    for key, value in options.items():
        if isinstance(value, QDict):
            keys += _flattened(value, f"{prefix}{key}.")
        else:
            keys.append(prefix + key)
    return keys
