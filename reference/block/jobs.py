"""block-commit of a non-active layer (QEMU 7.2), finishing at once, with the events it emits.

Verified on qsd 7.2 (auto-finalize and auto-dismiss on): the job is created
("created"), then the base is reopened read-write; if that fails the job is
dismissed ("null") and the command fails with the reopen's error. Otherwise
"running" comes before the reply, and after it "waiting", "pending",
BLOCK_JOB_COMPLETED (len = offset = the top's size, speed 0), "concluded",
"null". With auto-finalize false the job stops in "pending" (BLOCK_JOB_PENDING)
until job-finalize, which changes the graph and concludes it; with auto-dismiss
false it stays "concluded" until job-dismiss ("null"). A base whose file node
is explicitly read-only is not reopened with it: "Block node is read-only".
The base is read-only again afterwards, the overlay's backing is the
base, and the overlay's header names the base. Events are predicted as a
sequence; the harness collects them after the job finishes. A negative speed
is refused right after "created" ("null", then the error); a small positive
one keeps the job running (reference/block/rate_limited_commit.py).
"""

from __future__ import annotations

from itertools import pairwise

from reference.block import active_commit, rate_limited_commit
from reference.block.errors import BlockError, NotModelled
from reference.block.filenames import display_filename
from reference.block.graph import BlockGraph, backing_blocker
from reference.block.job import ManualCommitJob, RateLimitedCommitJob, chain, status, writable_base
from reference.block.names import check_new_name
from reference.block.node import Node
from reference.qobject.values import QDict

COMMIT_ARGUMENTS = frozenset(
    {
        "job-id",
        "device",
        "top-node",
        "base-node",
        "auto-finalize",
        "auto-dismiss",
        "filter-node-name",
        "speed",
    }
)
SPEED_ERROR = "Parameter 'speed' expects a non-negative value"


def block_commit(graph: BlockGraph, args: QDict) -> None:
    device_name = args.get("device")
    assert isinstance(device_name, str), "the input visitor checked 'device'"
    found = device_node(graph, device_name)
    if found is None:
        raise BlockError(f"Device '{device_name}' not found", "DeviceNotFound")
    if found.parents:
        if any(parent.filter_of is found for parent in found.parents):
            raise BlockError("Need a root block node")
        raise NotModelled("block-commit: a device that is not a root node is not modelled")
    if any(isinstance(job, RateLimitedCommitJob) for job in graph.jobs.values()):
        raise NotModelled("block-commit while a rate-limited commit runs is not modelled")
    if found.backing is not None and not _exports_pinned(graph, found, args):
        raise NotModelled("block-commit: a chain with an exported node other than the device or base")
    if args.get("top-node") in (None, device_name, found.name):
        active_commit.start(graph, args, found)
        return
    if graph.jobs:
        raise NotModelled("block-commit: a non-active commit while another job runs is not modelled")
    extra = sorted(set(args.keys()) - COMMIT_ARGUMENTS)
    if extra:
        raise NotModelled(f"block-commit: argument {extra[0]} is not modelled")
    job_id, top = _text(args, "job-id"), _text(args, "top-node")
    overlay, top_node = found, graph.find(top)
    if top_node is None:
        raise NotModelled("block-commit: unknown nodes are not modelled")
    # Without base-node the base is the bottom of the top's chain (verified on qemu-system 7.2, iotest 249).
    base_node = graph.find(_text(args, "base-node")) if "base-node" in args else chain(top_node)[-1]
    if base_node is None:
        raise NotModelled("block-commit: unknown nodes are not modelled")
    layers = chain(overlay)
    if top_node is overlay or top_node not in layers or base_node not in chain(top_node)[1:]:
        raise NotModelled("block-commit: only a non-active commit within one chain is modelled")
    above_top = layers[layers.index(top_node) - 1]
    if (
        (above_top.read_only and not _header_writable(graph, above_top))
        or top_node.image is None
        or (top_node.image.virtual_size != _size(base_node))
    ):
        raise NotModelled("block-commit: this read-only overlay or differing sizes are not modelled")
    graph.emit("JOB_STATUS_CHANGE", status(job_id, "created"))
    speed = args.get("speed") or 0
    assert isinstance(speed, int), "the input visitor checked 'speed'"
    try:
        if speed < 0:  # block_job_create sets the speed: the job exists, then goes (qsd 7.2)
            raise BlockError(SPEED_ERROR)
        # The base goes read-write, its inheriting children with it; only then is the filter
        # node named (qemu-system 7.2: a read-only base's error wins over an invalid filter name).
        group = writable_base(graph, base_node, always_reopens=True)
        filter_name = args.get("filter-node-name")
        if isinstance(filter_name, str):
            check_new_name(filter_name, {node.name for node in graph.nodes}, graph.profile)
        else:  # the job's commit_top node takes the next #block number (qsd 7.2), drawn or not
            graph.next_auto_name()
    except BlockError:
        graph.emit("JOB_STATUS_CHANGE", status(job_id, "null"))
        raise

    def change() -> None:
        _drop_intermediates(graph, above_top, top_node, base_node)

    if speed > 0:
        limited = rate_limited_commit.start(graph, job_id, args, top_node, base_node, change)
        graph.emit("JOB_STATUS_CHANGE", status(job_id, "running"))
        limited.restore = {node: node.read_only for node in group}
        for node in group:
            node.read_only = False
        graph.jobs[job_id] = limited
        return
    graph.emit("JOB_STATUS_CHANGE", status(job_id, "running"))
    length = top_node.image.virtual_size
    frozen = list(pairwise(layers))[layers.index(top_node) : layers.index(base_node)]
    job = ManualCommitJob(
        job_id, base_node, length, "pending", args.get("auto-finalize") is not False,
        args.get("auto-dismiss") is not False, change, "commit", frozen, [above_top],
    )  # fmt: skip
    conclude(graph, job)


def conclude(graph: BlockGraph, job: ManualCommitJob) -> None:
    """A commit that copied everything: "waiting", "pending", then job-finalize's wait or the end."""
    job_id = job.job_id
    for state in ("waiting", "pending"):
        graph.emit("JOB_STATUS_CHANGE", status(job_id, state))
    if not job.auto_finalize:  # verified on qsd 7.2: the job waits for job-finalize
        graph.emit("BLOCK_JOB_PENDING", QDict({"type": job.kind, "id": job_id}))
        graph.jobs[job_id] = job
        return
    finalize(graph, job)


def finalize(graph: BlockGraph, job: ManualCommitJob) -> None:
    """The job's graph change, BLOCK_JOB_COMPLETED and "concluded"; "null" unless it waits for job-dismiss."""
    length = job.length
    data = QDict({"type": job.kind, "device": job.job_id, "len": length, "offset": length, "speed": 0})
    graph.emit("BLOCK_JOB_COMPLETED", data)
    graph.emit("JOB_STATUS_CHANGE", status(job.job_id, "concluded"))
    job.finalize()
    job.state = "concluded"
    if job.auto_dismiss:
        graph.emit("JOB_STATUS_CHANGE", status(job.job_id, "null"))
        graph.jobs.pop(job.job_id, None)
    else:
        graph.jobs[job.job_id] = job


def dismiss(graph: BlockGraph, job: ManualCommitJob) -> None:
    graph.emit("JOB_STATUS_CHANGE", status(job.job_id, "null"))
    del graph.jobs[job.job_id]


def _exports_pinned(graph: BlockGraph, device: Node, args: QDict) -> bool:
    """Exports that leave the commit as it is without them (pinned on qsd 7.2): a read-only
    export of the base, any export of the device. The export shares everything, and the
    base's reopen keeps the export's read; other exported layers or files abstain."""
    layers = chain(device)
    named = args.get("base-node")
    base = graph.find(named) if isinstance(named, str) else layers[-1]
    for export in graph.exports:
        if export.node is device or (export.node is base and not export.writable):
            continue
        if any(export.node in (layer, *layer.children()) for layer in layers):
            return False
    return True


def device_node(graph: BlockGraph, name: str) -> Node | None:
    """block-commit's device: a BlockBackend's name (-drive) or a node name."""
    by_backend = next((node for node in graph.nodes if node.backend == name), None)
    return by_backend or graph.find(name)


def _header_writable(graph: BlockGraph, overlay: Node) -> bool:
    """A read-only qcow2 overlay still gets its header rewritten (iotest 247, pinned on qemu-system
    and qsd 7.2) when its file node may go read-write; other read-only overlays abstain."""
    file = overlay.file_child
    if overlay.driver != "qcow2" or file is None or file.driver != "file":
        return False
    if file.read_only or not file.auto_read_only:
        return False
    return graph.storage.open_error(file.filename, True) is None


def _text(args: QDict, key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise NotModelled(f"block-commit without {key} is not modelled")
    return value


def _size(node: Node) -> int | None:
    return node.image.virtual_size if node.image is not None else None


def _drop_intermediates(graph: BlockGraph, overlay: Node, top: Node, base: Node) -> None:
    top.parents.remove(overlay)
    base.parents.append(overlay)
    graph.unblock_backing(top, overlay)
    overlay.backing = base
    base.blockers.insert(0, backing_blocker(overlay))
    # The commit rewrote the overlay's header to name the base.
    overlay.auto_backing_file = display_filename(base)
    for node in (overlay, base, *base.children()):
        node.stale = True
    if not top.parents and not top.monitor_owned:
        graph.drop(top)
