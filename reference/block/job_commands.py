"""The job commands: complete and cancel a ready active commit, finalize and dismiss a
non-active commit waiting for them, cancel a rate-limited commit, pause, resume and set the
speed of a job, query-block-jobs and query-jobs.

Verified on qsd 7.2: the block-job-* commands look the job up by id and
answer DeviceNotActive "Block job '%s' not found"; the job-* commands answer
GenericError "Job not found". block-job-cancel without force on a ready job
completes it (without pivoting); with force, and job-cancel always, it is
cancelled. query-block-jobs shows a ready job as below. A verb the job's
state does not accept (QEMU's JobVerbTable, reference/block/job.py) answers
"Job '%s' in state '%s' cannot accept command verb '%s'". Pausing a job the
user paused already: "Job is already paused"; resuming one that is not (in any state, asked
before the verb table): "Can't resume a job that was not paused"; block-job-cancel without force of
a paused job: "The block job for device '%s' is currently paused". A pause
moves a running job to "paused" and a ready one to "standby"; a resume moves
it back; the event may come before or after the reply.
"""

from __future__ import annotations

from reference.block import active_commit, jobs, rate_limited_commit
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.job import (
    ActiveCommitJob,
    Job,
    ManualCommitJob,
    RateLimitedCommitJob,
    check_verb,
    status,
)
from reference.qobject.values import QDict, QObject

SPEED_ERROR = "Parameter 'speed' expects a non-negative value"


def _any_block_job(graph: BlockGraph, args: QDict) -> Job:
    name = args.get("device")
    assert isinstance(name, str), "the input visitor checked 'device'"
    job = graph.jobs.get(name)
    if job is None:
        raise BlockError(f"Block job '{name}' not found", "DeviceNotActive")
    return job


def _any_job(graph: BlockGraph, args: QDict) -> Job:
    name = args.get("id")
    assert isinstance(name, str), "the input visitor checked 'id'"
    job = graph.jobs.get(name)
    if job is None:
        raise BlockError("Job not found")
    return job


def _active(job: Job, verb: str) -> ActiveCommitJob:
    if not isinstance(job, ActiveCommitJob):
        check_verb(job, verb)  # running, paused and concluded jobs refuse to complete or cancel
        raise NotModelled(f"{verb}: a pending commit is not modelled")
    return job


def _manual(graph: BlockGraph, args: QDict, verb: str, state: str) -> ManualCommitJob:
    job = _any_job(graph, args)
    if job.state != state:
        raise BlockError(f"Job '{job.job_id}' in state '{job.state}' cannot accept command verb '{verb}'")
    assert isinstance(job, ManualCommitJob), "only a non-active commit waits in pending or concluded"
    return job


def job_finalize(graph: BlockGraph, args: QDict) -> None:
    jobs.finalize(graph, _manual(graph, args, "finalize", "pending"))


def job_dismiss(graph: BlockGraph, args: QDict) -> None:
    jobs.dismiss(graph, _manual(graph, args, "dismiss", "concluded"))


def block_job_complete(graph: BlockGraph, args: QDict) -> None:
    active_commit.finish(graph, _active(_any_block_job(graph, args), "complete"), cancelled=False, pivot=True)


def job_complete(graph: BlockGraph, args: QDict) -> None:
    active_commit.finish(graph, _active(_any_job(graph, args), "complete"), cancelled=False, pivot=True)


def block_job_cancel(graph: BlockGraph, args: QDict) -> None:
    job = _any_block_job(graph, args)
    force = args.get("force") is True
    if isinstance(job, (ActiveCommitJob, RateLimitedCommitJob)) and job.paused and not force:
        raise BlockError(f"The block job for device '{job.job_id}' is currently paused")
    if isinstance(job, RateLimitedCommitJob):
        rate_limited_commit.cancel(graph, job)
        return
    active_commit.finish(graph, _active(job, "cancel"), cancelled=force, pivot=False)


def job_cancel(graph: BlockGraph, args: QDict) -> None:
    job = _any_job(graph, args)
    if isinstance(job, RateLimitedCommitJob):
        rate_limited_commit.cancel(graph, job)
        return
    active_commit.finish(graph, _active(job, "cancel"), cancelled=True, pivot=False)


def _pause(graph: BlockGraph, job: Job) -> None:
    check_verb(job, "pause")
    assert not isinstance(job, ManualCommitJob), "pending and concluded jobs refuse the verb"
    if job.paused:
        raise BlockError("Job is already paused")
    job.paused = True
    graph.emit("JOB_STATUS_CHANGE", status(job.job_id, job.state))


def _resume(graph: BlockGraph, job: Job) -> None:
    # QEMU 7.2 asks whether the user paused it before the verb table (qsd 7.2: a pending job too)
    if isinstance(job, ManualCommitJob) or not job.paused:
        raise BlockError("Can't resume a job that was not paused")
    if isinstance(job, RateLimitedCommitJob):
        rate_limited_commit.resume(graph, job)
        return
    job.paused = False
    graph.emit("JOB_STATUS_CHANGE", status(job.job_id, job.state))
    if isinstance(job, ActiveCommitJob) and job.completing:  # completed in standby (qsd 7.2)
        active_commit.finish(graph, job, cancelled=False, pivot=True)


def block_job_pause(graph: BlockGraph, args: QDict) -> None:
    _pause(graph, _any_block_job(graph, args))


def job_pause(graph: BlockGraph, args: QDict) -> None:
    _pause(graph, _any_job(graph, args))


def block_job_resume(graph: BlockGraph, args: QDict) -> None:
    _resume(graph, _any_block_job(graph, args))


def job_resume(graph: BlockGraph, args: QDict) -> None:
    _resume(graph, _any_job(graph, args))


def block_job_set_speed(graph: BlockGraph, args: QDict) -> None:
    job = _any_block_job(graph, args)
    check_verb(job, "set-speed")
    assert not isinstance(job, ManualCommitJob), "pending and concluded jobs refuse the verb"
    speed = args.get("speed")
    assert isinstance(speed, int), "the input visitor checked 'speed'"
    if speed < 0:
        raise BlockError(SPEED_ERROR)
    old, job.speed = job.speed, speed
    if isinstance(job, RateLimitedCommitJob) and not job.paused:
        rate_limited_commit.speed_changed(graph, job, old)


def query_block_jobs(graph: BlockGraph, args: QDict) -> QObject:
    return [_job_info(job) for job in reversed(graph.jobs.values())]


def query_jobs(graph: BlockGraph, args: QDict) -> QObject:
    return [
        QDict({"id": job.job_id, "type": _kind(job), "status": job.state, "current-progress": _offset(job),
               "total-progress": job.length})
        for job in reversed(graph.jobs.values())
    ]  # fmt: skip


def _offset(job: Job) -> QObject:
    """A paused rate-limited commit got one chunk further or not (a race with its first sleep); while
    it runs, whether it is busy copying is timing too: the model abstains there."""
    if not isinstance(job, RateLimitedCommitJob):
        return job.length
    if not job.paused:
        raise NotModelled("the progress of a running rate-limited commit is timing-dependent")
    return job.offsets()


def _job_info(job: Job) -> QDict:
    ready = isinstance(job, ActiveCommitJob)
    paused = not isinstance(job, ManualCommitJob) and job.paused
    speed = 0 if isinstance(job, ManualCommitJob) else job.speed
    info = QDict()
    for key, value in (
        ("type", _kind(job)), ("device", job.job_id), ("len", job.length), ("offset", _offset(job)),
        ("busy", False), ("paused", paused), ("speed", speed), ("io-status", "ok"), ("ready", ready),
        ("status", job.state),
        ("auto-finalize", job.auto_finalize if isinstance(job, ManualCommitJob) else True),
        ("auto-dismiss", job.auto_dismiss if isinstance(job, ManualCommitJob) else True),
    ):  # fmt: skip
        info.put(key, value)
    return info


def _kind(job: Job) -> str:
    return job.kind if isinstance(job, ManualCommitJob | RateLimitedCommitJob) else "commit"
