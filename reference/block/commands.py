"""The QMP block commands on a BlockGraph: checked arguments in, return value out.

They raise BlockError for QEMU's GenericError answers and NotModelled where
the model cannot predict; reference.qmp.commands wraps them as handlers. A
process model without storage facts gets an empty graph whose storage
abstains: name checks and lookups are still predicted.
"""

from __future__ import annotations

from reference.block.errors import NotModelled
from reference.block.exports import (
    block_export_add,
    block_export_del,
    nbd_server_add,
    nbd_server_remove,
    nbd_server_start,
    nbd_server_stop,
    query_block_exports,
)
from reference.block.graph import BlockGraph
from reference.block.job import ManualCommitJob
from reference.block.job_commands import (
    block_job_cancel,
    block_job_complete,
    job_cancel,
    job_complete,
    job_dismiss,
    job_finalize,
    query_block_jobs,
    query_jobs,
)
from reference.block.jobs import block_commit as commit
from reference.block.other_query import query_abstains
from reference.block.query import build_ahead, named_block_nodes
from reference.block.reopen import blockdev_reopen as reopen
from reference.block.stream import block_stream as stream
from reference.block.stream import delete_while_waiting
from reference.qobject.values import QDict, QObject

__all__ = [
    "block_commit",
    "block_export_add",
    "block_export_del",
    "block_job_cancel",
    "block_job_complete",
    "block_stream",
    "blockdev_add",
    "blockdev_del",
    "blockdev_reopen",
    "job_cancel",
    "job_complete",
    "job_dismiss",
    "job_finalize",
    "nbd_server_add",
    "nbd_server_remove",
    "nbd_server_start",
    "nbd_server_stop",
    "query_block_exports",
    "query_block_jobs",
    "query_jobs",
    "query_named_block_nodes",
]  # fmt: skip


def blockdev_add(graph: BlockGraph, args: QDict) -> None:
    known = len(graph.nodes)
    graph.add(args)
    build_ahead(graph, graph.nodes[known:])  # the opened nodes are appended


def blockdev_del(graph: BlockGraph, args: QDict) -> None:
    name = args.get("node-name")
    assert isinstance(name, str), "the input visitor checked 'node-name'"
    streams = [
        job for job in graph.jobs.values() if isinstance(job, ManualCommitJob) and job.kind == "stream"
    ]
    if streams:
        if len(streams) != len(graph.jobs) or any(job.state != "pending" for job in streams):
            raise NotModelled("blockdev-del while a stream job waits for job-dismiss is not modelled")
        delete_while_waiting(graph, name)
    graph.delete(name)


def query_named_block_nodes(graph: BlockGraph, args: QDict) -> QObject:
    if any(
        job.state in ("running", "paused")
        or (job.state == "pending" and (not isinstance(job, ManualCommitJob) or job.shown_filter is None))
        for job in graph.jobs.values()
    ):
        # a pending or rate-limited commit holds its filter node and a read-write base: not modelled
        raise NotModelled("query-named-block-nodes while a commit waits for job-finalize is not modelled")
    why = query_abstains(graph.nodes, graph.profile.name)
    if why is not None:
        raise NotModelled(f"query-named-block-nodes: {why} is not modelled")
    return named_block_nodes(graph, args.get("flat") is True)


def blockdev_reopen(graph: BlockGraph, args: QDict) -> None:
    entries = args.get("options")
    assert isinstance(entries, list), "the input visitor checked 'options'"
    reopen(graph, [entry for entry in entries if isinstance(entry, QDict)])


def block_commit(graph: BlockGraph, args: QDict) -> None:
    commit(graph, args)


def block_stream(graph: BlockGraph, args: QDict) -> None:
    stream(graph, args)
