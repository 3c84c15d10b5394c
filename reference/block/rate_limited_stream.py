"""block-stream with a speed limit (QEMU 7.2; 10.0 and 11.1 as the profile says).

Pinned on qsd and qemu-system 7.2 (fixtures/block/cases/stream-speed.json):
the stream copies the data of the layers above the base in chunks of at most
512 KiB, as the rate-limited commit does (reference/block/rate_limited_commit.py
models the chunks, the race over the first one, the wake-ups and the cancel):
"created" and "running" before the reply, then the job copies a chunk and
sleeps for as long as the speed asks. While it runs its copy-on-read filter
is above the device and the device and the layers it copies carry the job's
op blocker; a cancel removes both and leaves the chain as it was (the copied
chunks stay in the device); a speed set to 0 lets it finish as an unlimited
stream does.

Modelled: a writable root device, auto-finalize and auto-dismiss left true,
allocation facts for the layers. Only where the copied data is one run from
offset 0 and the device allocates nothing itself are the offsets known (a
stretch the job skips is another pause point).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.job import RateLimitedCommitJob
from reference.block.node import Node
from reference.block.rate_limited_commit import CHUNK, slow_enough
from reference.block.storage import AllocationFacts
from reference.qobject.values import QDict


@dataclass(frozen=True)
class Plan:
    speed: int
    chunks: int  # pieces of data to copy: the job cannot finish in fewer wake-ups
    smallest: int
    ends: tuple[int, ...]  # where each piece ends, when they are known


def plan(graph: BlockGraph, args: QDict, device: Node, between: list[Node]) -> Plan:
    """What the limited stream will copy; abstains where the model cannot say what it does."""
    speed = args.get("speed")
    assert isinstance(speed, int), "the input visitor checked 'speed'"
    if args.get("auto-finalize") is False or args.get("auto-dismiss") is False:
        raise NotModelled("block-stream: a speed with auto-finalize or auto-dismiss false is not modelled")
    file = device.file_child
    if device.parents or device.read_only or file is None or file.read_only:
        raise NotModelled("block-stream: a speed on a read-only device or one with parents is not modelled")
    storage = graph.storage
    if not isinstance(storage, AllocationFacts):
        raise NotModelled("block-stream with a speed: no allocation facts for the layers")
    runs = _runs([extent for layer in between for extent in storage.allocated_extents(layer.filename)])
    pieces = [size for start, end in runs for size in _pieces(end - start)]
    if len(pieces) < 2 or not slow_enough(speed, min(pieces)):
        raise NotModelled("block-stream: a speed that lets the job finish on its own is not modelled")
    own = storage.allocated_extents(device.filename)
    known = len(runs) == 1 and runs[0][0] == 0 and not own
    return Plan(speed, len(pieces), min(pieces), tuple(accumulate(pieces)) if known else ())


def start(
    graph: BlockGraph, job_id: str, device: Node, length: int, how: Plan,
    finalize: Callable[[], None], on_cancel: Callable[[], None],
) -> None:  # fmt: skip
    """The job copies its first chunk (or races to) and sleeps; it waits in graph.jobs."""
    graph.jobs[job_id] = RateLimitedCommitJob(
        job_id, device, length, how.speed, True, True, how.chunks, how.smallest, finalize, {}, ends=how.ends,
        wake_up_copies=graph.profile.limited_job_wake_up_copies, kind="stream", on_cancel=on_cancel,
    )  # fmt: skip


def _runs(extents: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The merged (start, end) ranges of (offset, size) extents."""
    runs: list[tuple[int, int]] = []
    for start, end in sorted((offset, offset + size) for offset, size in extents):
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((start, end))
    return runs


def _pieces(size: int) -> list[int]:
    whole, rest = divmod(size, CHUNK)
    return [CHUNK] * whole + ([rest] if rest else [])
