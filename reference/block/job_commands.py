"""The job commands: complete and cancel a ready active commit, finalize and dismiss a
non-active commit waiting for them, query-block-jobs and query-jobs.

Verified on qsd 7.2: the block-job-* commands look the job up by id and
answer DeviceNotActive "Block job '%s' not found"; the job-* commands answer
GenericError "Job not found". block-job-cancel without force on a ready job
completes it (without pivoting); with force, and job-cancel always, it is
cancelled. query-block-jobs shows a ready job as below. job-finalize and
job-dismiss in any other state than "pending" and "concluded" answer "Job '%s'
in state '%s' cannot accept command verb '%s'".
"""

from __future__ import annotations

from reference.block import active_commit, jobs
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.job import ActiveCommitJob, Job, ManualCommitJob
from reference.qobject.values import QDict, QObject


def _block_job(graph: BlockGraph, args: QDict) -> ActiveCommitJob:
    name = args.get("device")
    assert isinstance(name, str), "the input visitor checked 'device'"
    job = graph.jobs.get(name)
    if job is None:
        raise BlockError(f"Block job '{name}' not found", "DeviceNotActive")
    return _active(job)


def _any_job(graph: BlockGraph, args: QDict) -> Job:
    name = args.get("id")
    assert isinstance(name, str), "the input visitor checked 'id'"
    job = graph.jobs.get(name)
    if job is None:
        raise BlockError("Job not found")
    return job


def _job(graph: BlockGraph, args: QDict) -> ActiveCommitJob:
    return _active(_any_job(graph, args))


def _active(job: Job) -> ActiveCommitJob:
    if not isinstance(job, ActiveCommitJob):
        raise NotModelled("completing or cancelling a pending or concluded commit is not modelled")
    return job


def _manual(graph: BlockGraph, args: QDict, verb: str, state: str) -> ManualCommitJob:
    job = _any_job(graph, args)
    current = job.state if isinstance(job, ManualCommitJob) else "ready"
    if current != state:
        raise BlockError(f"Job '{job.job_id}' in state '{current}' cannot accept command verb '{verb}'")
    assert isinstance(job, ManualCommitJob), "only a non-active commit waits in pending or concluded"
    return job


def job_finalize(graph: BlockGraph, args: QDict) -> None:
    jobs.finalize(graph, _manual(graph, args, "finalize", "pending"))


def job_dismiss(graph: BlockGraph, args: QDict) -> None:
    jobs.dismiss(graph, _manual(graph, args, "dismiss", "concluded"))


def block_job_complete(graph: BlockGraph, args: QDict) -> None:
    active_commit.finish(graph, _block_job(graph, args), cancelled=False, pivot=True)


def job_complete(graph: BlockGraph, args: QDict) -> None:
    active_commit.finish(graph, _job(graph, args), cancelled=False, pivot=True)


def block_job_cancel(graph: BlockGraph, args: QDict) -> None:
    job = _block_job(graph, args)
    active_commit.finish(graph, job, cancelled=args.get("force") is True, pivot=False)


def job_cancel(graph: BlockGraph, args: QDict) -> None:
    active_commit.finish(graph, _job(graph, args), cancelled=True, pivot=False)


def query_block_jobs(graph: BlockGraph, args: QDict) -> QObject:
    return [_job_info(job) for job in reversed(graph.jobs.values())]


def query_jobs(graph: BlockGraph, args: QDict) -> QObject:
    return [
        QDict({"id": job.job_id, "type": "commit", "status": _state(job), "current-progress": job.length,
               "total-progress": job.length})
        for job in reversed(graph.jobs.values())
    ]  # fmt: skip


def _state(job: Job) -> str:
    return job.state if isinstance(job, ManualCommitJob) else "ready"


def _job_info(job: Job) -> QDict:
    manual = isinstance(job, ManualCommitJob)
    info = QDict()
    for key, value in (
        ("type", "commit"), ("device", job.job_id), ("len", job.length), ("offset", job.length),
        ("busy", False), ("paused", False), ("speed", 0), ("io-status", "ok"), ("ready", not manual),
        ("status", _state(job)),
        ("auto-finalize", job.auto_finalize if isinstance(job, ManualCommitJob) else True),
        ("auto-dismiss", job.auto_dismiss if isinstance(job, ManualCommitJob) else True),
    ):  # fmt: skip
        info.put(key, value)
    return info
