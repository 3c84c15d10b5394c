"""A non-active block-commit with a speed limit, pinned on qsd and qemu-system 7.2, qsd 10.0 and 11.1.

The commit copies the data above the base in chunks of at most 512 KiB (its
buffer) and, after each chunk it copied, sleeps for as long as the speed
asks: with a speed of a few bytes per second, hours. So the job copies one
chunk and then waits, "running", until something wakes it: a resume, or a
speed raised while it sleeps. Whether the first chunk was copied before a
pause that follows at once is a race with the job's first (zero-length)
sleep, so the offset of a job that was paused is one of two chunk ends
(where the data is one run from offset 0; elsewhere unallocated stretches add
pause points, and the model says any integer). After that each wake-up copies
exactly one chunk before the job can pause or notice a cancel.
From 8.0 on (the profile's limited_job_wake_up_copies false; seen on qsd 10.0
and 11.1) a woken job works out its delay again and sleeps on: a wake-up
only lets it copy the first chunk if the race left it uncopied, so after one
it is at the first chunk's end for certain, however often it is woken.
Waking a paused job whose speed was set to 0 runs it to the end: the
completion events follow the reply. Cancelling it (block-job-cancel with or
without force, job-cancel) aborts it: "running" first if it was paused, then
"aborting", BLOCK_JOB_CANCELLED, "concluded", "null"; the base goes back to
read-only and the chain keeps its shape.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate

from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.job import ManualCommitJob, RateLimitedCommitJob, chain, status
from reference.block.node import Node
from reference.block.storage import AllocationFacts
from reference.qobject.values import QDict

CHUNK = 512 * 1024  # QEMU's COMMIT_BUFFER_SIZE
SLEEP_FLOOR = 3600  # seconds the job must sleep after a chunk for the model to call it "waiting"


def data_runs(graph: BlockGraph, top: Node, base: Node) -> list[tuple[int, int]]:
    """The merged (start, end) ranges that the layers from top down to the base (excluded) allocate."""
    storage = graph.storage
    if not isinstance(storage, AllocationFacts):
        raise NotModelled("block-commit with a speed: no allocation facts for the layers above the base")
    layers = chain(top)
    extents = sorted(
        (offset, offset + size)
        for node in layers[: layers.index(base)]
        for offset, size in storage.allocated_extents(node.filename)
    )
    runs: list[tuple[int, int]] = []
    for start, end in extents:
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((start, end))
    return runs


def slow_enough(speed: int, smallest: int) -> bool:
    """Whether a chunk of `smallest` bytes at `speed` bytes/s means a sleep the model can count on."""
    return speed > 0 and speed * SLEEP_FLOOR <= smallest


def start(
    graph: BlockGraph, job_id: str, args: QDict, top: Node, base: Node, finalize: Callable[[], None]
) -> RateLimitedCommitJob:
    speed = args.get("speed")
    assert isinstance(speed, int), "the input visitor checked 'speed'"
    runs = data_runs(graph, top, base)
    pieces = [size for start, end in runs for size in _pieces(end - start)]
    if len(pieces) < 2 or not slow_enough(speed, min(pieces)):
        # one chunk (or none) finishes before any sleep; a high speed finishes at its own pace
        raise NotModelled("block-commit: a speed that lets the job finish on its own is not modelled")
    ends = tuple(accumulate(pieces)) if len(runs) == 1 and runs[0][0] == 0 else ()
    return RateLimitedCommitJob(
        job_id, base, _size(top), speed, args.get("auto-finalize") is not False,
        args.get("auto-dismiss") is not False, len(pieces), min(pieces), finalize, {}, ends=ends,
        wake_up_copies=graph.profile.limited_job_wake_up_copies,
    )  # fmt: skip


def wake(job: RateLimitedCommitJob) -> None:
    """The job copies one more chunk; it must still have data left to sleep on afterwards.
    From 8.0 on it copies only a first chunk it had not copied yet, then sleeps out its delay."""
    if not job.wake_up_copies:
        job.first_chunk_certain = True
        return
    job.wakeups += 1
    if job.wakeups >= job.chunks:
        raise NotModelled("waking a rate-limited commit that may reach its end is not modelled")


def resume(graph: BlockGraph, job: RateLimitedCommitJob) -> None:
    job.paused = False
    graph.emit("JOB_STATUS_CHANGE", status(job.job_id, "running"))
    if job.speed == 0:  # nothing holds it back any more: it runs to the end
        _run_to_end(graph, job)
        return
    if not slow_enough(job.speed, job.smallest):
        raise NotModelled("resuming a commit at this speed is not modelled")
    wake(job)


def cancel(graph: BlockGraph, job: RateLimitedCommitJob) -> None:
    if not job.auto_dismiss:
        raise NotModelled("cancelling a rate-limited commit with auto-dismiss false is not modelled")
    if job.paused:  # cancelling undoes the user's pause first
        graph.emit("JOB_STATUS_CHANGE", status(job.job_id, "running"))
    graph.emit("JOB_STATUS_CHANGE", status(job.job_id, "aborting"))
    data = QDict({"type": job.kind, "device": job.job_id, "len": job.length, "offset": job.offsets(),
                  "speed": job.speed})  # fmt: skip
    graph.emit("BLOCK_JOB_CANCELLED", data)
    for state in ("concluded", "null"):
        graph.emit("JOB_STATUS_CHANGE", status(job.job_id, state))
    del graph.jobs[job.job_id]
    if job.on_cancel is not None:
        job.on_cancel()
    _restore(job)


def _run_to_end(graph: BlockGraph, job: RateLimitedCommitJob) -> None:
    """The rest is copied at full speed: the job ends as an unlimited commit does."""
    from reference.block import jobs  # jobs starts this module's jobs: import at run time

    del graph.jobs[job.job_id]
    _restore(job)
    done = ManualCommitJob(job.job_id, job.base, job.length, "pending", job.auto_finalize,
                           job.auto_dismiss, job.finalize, job.kind)  # fmt: skip
    jobs.conclude(graph, done)


def _restore(job: RateLimitedCommitJob) -> None:
    """The base goes back to read-only (QEMU's commit_clean) and its size on disk changed."""
    for node, read_only in job.restore.items():
        node.read_only = read_only
    for node in (job.base, *job.base.children()):
        node.stale = True


def _pieces(size: int) -> list[int]:
    whole, rest = divmod(size, CHUNK)
    return [CHUNK] * whole + ([rest] if rest else [])


def _size(node: Node) -> int:
    assert node.image is not None, "block-commit checked the top's image"
    return node.image.virtual_size


def speed_changed(graph: BlockGraph, job: RateLimitedCommitJob, old: int) -> None:
    """block-job-set-speed on a running job: a raised speed wakes it for one chunk; 0 lets it finish."""
    if job.speed == 0:  # woken or not, it does not sleep again (qsd 7.2)
        _run_to_end(graph, job)
        return
    if job.speed <= old:  # QEMU kicks the job only when the speed goes up
        return
    if not slow_enough(job.speed, job.smallest):
        raise NotModelled("raising a commit's speed this far is not modelled")
    wake(job)
