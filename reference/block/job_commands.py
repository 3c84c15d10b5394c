"""The job commands on a ready active commit: complete, cancel, and query-block-jobs.

Verified on qsd 7.2: the block-job-* commands look the job up by id and
answer DeviceNotActive "Block job '%s' not found"; the job-* commands answer
GenericError "Job not found". block-job-cancel without force on a ready job
completes it (without pivoting); with force, and job-cancel always, it is
cancelled. query-block-jobs shows a ready job as below.
"""

from __future__ import annotations

from reference.block import active_commit
from reference.block.errors import BlockError
from reference.block.graph import BlockGraph
from reference.block.job import ActiveCommitJob
from reference.qobject.values import QDict, QObject


def _block_job(graph: BlockGraph, args: QDict) -> ActiveCommitJob:
    name = args.get("device")
    assert isinstance(name, str), "the input visitor checked 'device'"
    job = graph.jobs.get(name)
    if job is None:
        raise BlockError(f"Block job '{name}' not found", "DeviceNotActive")
    return job


def _job(graph: BlockGraph, args: QDict) -> ActiveCommitJob:
    name = args.get("id")
    assert isinstance(name, str), "the input visitor checked 'id'"
    job = graph.jobs.get(name)
    if job is None:
        raise BlockError("Job not found")
    return job


def block_job_complete(graph: BlockGraph, args: QDict) -> None:
    active_commit.finish(graph, _block_job(graph, args), cancelled=False)


def job_complete(graph: BlockGraph, args: QDict) -> None:
    active_commit.finish(graph, _job(graph, args), cancelled=False)


def block_job_cancel(graph: BlockGraph, args: QDict) -> None:
    job = _block_job(graph, args)
    active_commit.finish(graph, job, cancelled=args.get("force") is True)


def job_cancel(graph: BlockGraph, args: QDict) -> None:
    active_commit.finish(graph, _job(graph, args), cancelled=True)


def query_block_jobs(graph: BlockGraph, args: QDict) -> QObject:
    return [_job_info(job) for job in reversed(graph.jobs.values())]


def _job_info(job: ActiveCommitJob) -> QDict:
    info = QDict()
    for key, value in (
        ("type", "commit"), ("device", job.job_id), ("len", job.length), ("offset", job.length),
        ("busy", False), ("paused", False), ("speed", 0), ("io-status", "ok"), ("ready", True),
        ("status", "ready"), ("auto-finalize", True), ("auto-dismiss", True),
    ):  # fmt: skip
        info.put(key, value)
    return info
