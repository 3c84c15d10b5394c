"""block-commit of the active layer (QEMU 7.2): a mirror job that waits in "ready".

Verified on qsd 7.2 (auto-finalize and auto-dismiss on):
- before anything runs: an unknown device is DeviceNotFound; a node under a
  job's filter "Need a root block node"; a base-node outside the chain "'%s'
  is not in this backing file chain"; a node without backing "cannot commit
  an image into itself"; no job-id (device given as a node name) "Invalid job
  ID ''"; then the base is reopened read-write, and a failure there is the
  reply, without any event;
- otherwise "created" and "running" come before the reply, then "ready" and
  BLOCK_JOB_READY (len = offset = the bytes the layers above the base
  allocate, in whole granules of the base's cluster size);
- while it runs a mirror_top filter node (auto-named, newest) sits above the
  top, the base and its file child are read-write, and the top and base carry
  the job's op blocker, and the top an anonymous dirty bitmap (query-named-block-nodes shows it);
- completing (or cancelling without force) a ready job: "waiting", "pending",
  BLOCK_JOB_COMPLETED, "concluded", "null"; with force (job-cancel always):
  "aborting", BLOCK_JOB_CANCELLED, "concluded", "null". Either way the filter
  goes, the top keeps its backing, and the base stays read-write (back to
  read-only if the top is read-only). The top had
  no parent to pivot, so the graph keeps its shape;
- a negative speed is refused after the base's reopen and the filter's
  creation (both undone): "created", "null", then the error. A positive speed
  changes nothing but the events' speed where it lets the job copy everything
  within a second (it sleeps dispatched/speed seconds after each batch);
  slower, how far the mirror got is timing-dependent (not modelled). A speed
  set on a ready job shows in its later events;
- in standby (paused): complete answers {} and nothing happens until a resume,
  which moves it to "ready" and then completes it; a forced cancel (job-cancel)
  moves it to "ready" first, then aborts it, completing or not.
"""

from __future__ import annotations

from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.job import JOB_BLOCKER, ActiveCommitJob, chain, status, writable_base
from reference.block.node import Node
from reference.block.storage import AllocationFacts
from reference.qobject.values import QDict

ARGUMENTS = frozenset({"job-id", "device", "base-node", "speed"})
MIN_GRANULARITY, MAX_GRANULARITY = 4096, 65536
READY_WITHIN = 1  # seconds: a speed that copies the data in this long gets the job ready for sure


def start(graph: BlockGraph, args: QDict, device: Node) -> None:
    """The checks after the device was found and turned out to be the active layer."""
    extra = sorted(set(args.keys()) - ARGUMENTS)
    if extra:
        raise NotModelled(f"block-commit: argument {extra[0]} is not modelled for an active commit")
    layers = chain(device)
    base = _base(graph, args, layers)
    if base is device:
        raise BlockError("cannot commit an image into itself")
    job_id = args.get("job-id")
    if not isinstance(job_id, str):
        raise BlockError("Invalid job ID ''")
    if job_id in graph.jobs or not job_id[:1].isalpha():
        raise NotModelled("block-commit: a job ID in use or not well formed is not modelled")
    speed = args.get("speed") or 0
    assert isinstance(speed, int), "the input visitor checked 'speed'"
    above = layers[: layers.index(base)]
    length, granularity = _length(graph, above, base)
    if speed > 0 and length > speed * READY_WITHIN:
        raise NotModelled(
            "block-commit: an active commit too slow to be ready within a second is not modelled"
        )
    group = writable_base(graph, base, always_reopens=False)
    before = {node: node.read_only for node in group}
    for node in group:
        node.read_only = False
    if before[base]:  # QEMU reopened it with read-only given: its own option from now on
        base.read_only_explicit = True
    filter_node = graph.add_filter("mirror_top", device)
    if speed < 0:  # block_job_create refuses it: the filter goes, the base is reopened back
        graph.remove_filter(filter_node)
        for node, read_only in before.items():
            node.read_only = read_only
        for state in ("created", "null"):
            graph.emit("JOB_STATUS_CHANGE", status(job_id, state))
        raise BlockError("Parameter 'speed' expects a non-negative value")
    job = ActiveCommitJob(job_id, device, base, filter_node, length, [*above, base], speed=max(speed, 0))
    for node in job.blocked:
        node.blockers.insert(0, JOB_BLOCKER)
    graph.jobs[job_id] = job
    if device.read_only:  # verified on qsd 7.2: under a read-only top the base goes back to read-only
        job.restore = before
    # the mirror tracks the top's writes (verified: count 0 when ready); 10.0 on, from its filter
    (filter_node if graph.profile.mirror_bitmap_on_filter else device).job_bitmap = granularity
    for state in ("created", "running", "ready"):
        graph.emit("JOB_STATUS_CHANGE", status(job_id, state))
    graph.emit("BLOCK_JOB_READY", progress(job))
    for node in (base, *base.children()):
        node.stale = True  # the job copied the data already


def _base(graph: BlockGraph, args: QDict, layers: list[Node]) -> Node:
    name = args.get("base-node")
    if name is None:
        return layers[-1]
    assert isinstance(name, str), "the input visitor checked 'base-node'"
    base = graph.find(name)
    if base is None:
        raise NotModelled("block-commit: an unknown base-node is not modelled")
    if base not in layers:
        raise BlockError(f"'{name}' is not in this backing file chain")
    return base


def _length(graph: BlockGraph, above: list[Node], base: Node) -> tuple[int, int]:
    storage = graph.storage
    if not isinstance(storage, AllocationFacts):
        raise NotModelled("block-commit: no allocation facts for the layers above the base")
    if any(node.driver != "qcow2" for node in above) or base.image is None:
        raise NotModelled("block-commit: only qcow2 layers over a qcow2 base are modelled")
    granularity = min(max(base.image.cluster_size or MAX_GRANULARITY, MIN_GRANULARITY), MAX_GRANULARITY)
    granules: set[int] = set()
    for node in above:
        for offset, size in storage.allocated_extents(node.filename):
            granules.update(range(offset // granularity, -(-(offset + size) // granularity)))
    return len(granules) * granularity, granularity


def progress(job: ActiveCommitJob) -> QDict:
    length = job.length
    return QDict(
        {"type": "commit", "device": job.job_id, "len": length, "offset": length, "speed": job.speed}
    )


def finish(graph: BlockGraph, job: ActiveCommitJob, cancelled: bool, pivot: bool) -> None:
    """End a ready job: complete it (pivot: the base takes the top's place), or stop it without a
    pivot (block-job-cancel without force, which still reports BLOCK_JOB_COMPLETED), or abort it."""
    if not pivot and any(export.node is job.top for export in graph.exports):
        raise NotModelled("an active commit ending without a pivot under an export of its top: not modelled")
    if cancelled and job.restore:
        raise NotModelled("aborting an active commit under a read-only top is not modelled")
    if job.paused:
        assert cancelled or pivot, "block-job-cancel without force refuses a paused job"
        if not cancelled:  # it completes when resumed
            job.completing = True
            return
        job.paused = False  # the cancel resumes it first
        graph.emit("JOB_STATUS_CHANGE", status(job.job_id, job.state))
    if cancelled:
        graph.emit("JOB_STATUS_CHANGE", status(job.job_id, "aborting"))
        graph.emit("BLOCK_JOB_CANCELLED", progress(job))
    else:
        for state in ("waiting", "pending"):
            graph.emit("JOB_STATUS_CHANGE", status(job.job_id, state))
        graph.emit("BLOCK_JOB_COMPLETED", progress(job))
        for export in graph.exports if pivot else ():  # the base replaces the top (seen on qsd 7.2)
            if export.node is job.top:
                export.node = job.base
    for state in ("concluded", "null"):
        graph.emit("JOB_STATUS_CHANGE", status(job.job_id, state))
    for node in job.blocked:
        node.blockers.remove(JOB_BLOCKER)
    graph.remove_filter(job.filter)
    # Under a read-only top the base goes back to read-only when it takes the top's place; without
    # a pivot it stays read-write (both seen on qsd 7.2: job-complete, block-job-cancel).
    for node, read_only in job.restore.items() if pivot else ():
        node.read_only = read_only
    job.top.job_bitmap = None
    del graph.jobs[job.job_id]
    for node in (job.base, *job.base.children()):
        node.stale = True
