"""block-stream (QEMU 7.2): copy the backing chain's data into a node, then drop the layers.

Verified on qsd and qemu-system 7.2 (iotest 245's test_block_stream_*):
- 'base' with 'base-node', or 'bottom' with 'base-node': "'%s' and '%s'
  cannot be specified at the same time", before anything else;
- an unknown device is "Cannot find device='%s' nor node-name='%s'", an
  unknown base-node "Cannot find device='' nor node-name='%s'", a base-node
  outside the device's backing chain (the device itself too) "Node '%s' is
  not a backing image of '%s'"; 'bottom' names the lowest layer to copy (the
  device itself: nothing); a layer carrying a waiting stream's op blocker is
  "Node '%s' is busy: block device is in use by block job: stream"; no
  job-id "Invalid job ID ''", one not well formed "Invalid job ID '%s'"; a
  negative speed: "created", "null", then "Parameter 'speed' expects a
  non-negative value";
- "created" and "running" come before the reply, then "waiting", "pending",
  BLOCK_JOB_COMPLETED (type "stream", len = offset = the device's size, 0 when
  it has no backing node: nothing to copy), "concluded", "null". With
  auto-finalize false the job waits in "pending" (BLOCK_JOB_PENDING) for
  job-finalize, having copied everything; auto-dismiss false waits in
  "concluded" for job-dismiss;
- while it waits, a copy-on-read filter (auto-named, or named by filter-node-name: iotest
  245's test_block_stream_4; a name taken or not well formed abstains) sits above the device and
  the device is read-write; the backing links from the device down to the
  node above the base are frozen; a parent of the device sees the filter as
  its implicit backing child (reference/block/reopen_jobs.py);
- when it finalizes, the device's backing is the base (none without one), its
  header names the base's file (or nothing), and the layers in between go
  unless the monitor holds them. A base unlinked while the job waited is no
  longer the base: the device ends without a backing node;
- a read-only device is read-only again when the job ends (10.0 and 11.1: it stays
  read-write, reference/block/stream_read_only.py);
- while it waits, the device and the layers it copied carry the job's op
  blocker: blockdev-del says "Node '%s' is busy: block device is in use by
  block job: stream" there;
- 'base' (a layer's file) and 'backing-file' (the header's new string):
  reference/block/stream_base.py; 'on-error' changes nothing while no I/O fails.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import NoReturn

from reference.block import jobs, rate_limited_stream
from reference.block.errors import BlockError, NotModelled
from reference.block.filenames import display_filename
from reference.block.graph import BlockGraph, backing_blocker
from reference.block.job import ManualCommitJob, chain, inheriting, status
from reference.block.names import lookup_error, well_formed
from reference.block.node import Node
from reference.block.stream_base import check_backing_file, find_backing_image
from reference.block.stream_read_only import after_stream, read_only_group
from reference.qobject.values import QDict

STREAM_BLOCKER = "block device is in use by block job: stream"
ARGUMENTS = frozenset(
    {"job-id", "device", "base", "base-node", "bottom", "backing-file", "auto-finalize", "auto-dismiss",
     "speed", "filter-node-name", "on-error"}
)  # fmt: skip
# Pairs QEMU refuses together, checked before anything else, in this order (qsd 7.2).
EXCLUSIVE = (("base", "base-node"), ("base", "bottom"), ("bottom", "base-node"))
WELL_FORMED_ID = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")
SPEED_ERROR = "Parameter 'speed' expects a non-negative value"


def block_stream(graph: BlockGraph, args: QDict) -> None:
    for first, second in EXCLUSIVE:
        if first in args and second in args:
            raise BlockError(f"'{first}' and '{second}' cannot be specified at the same time")
    extra = sorted(set(args.keys()) - ARGUMENTS)
    if extra:
        raise NotModelled(f"block-stream: argument {extra[0]} is not modelled")
    if graph.devices.in_use() or graph.devices.incoming:
        raise NotModelled("block-stream with guest devices (or during -incoming) is not modelled")
    name = args.get("device")
    assert isinstance(name, str), "the input visitor checked 'device'"
    device = graph.find(name)
    if device is None:
        if any(node.backend is not None for node in graph.nodes):
            raise NotModelled("block-stream: device names of -drive BlockBackends are not modelled")
        raise lookup_error(graph.profile, name, name)
    layers = chain(device)
    base = _base(graph, args, device) if "bottom" not in args else _below_bottom(graph, args, device)
    _check_blockers(graph, layers[: layers.index(base)] if base is not None else layers)
    # 'on-error' (any value the input visitor takes) changes nothing when no read or write fails
    backing_file = check_backing_file(args, base if "bottom" not in args else None)
    job_id = args.get("job-id")
    if not isinstance(job_id, str):
        raise BlockError("Invalid job ID ''")
    if not WELL_FORMED_ID.fullmatch(job_id):
        raise BlockError(f"Invalid job ID '{job_id}'")
    if graph.jobs:
        raise NotModelled("block-stream while another job waits is not modelled")
    filter_name = args.get("filter-node-name")
    if filter_name is not None and (not isinstance(filter_name, str) or graph.find(filter_name) is not None
                                    or not well_formed(filter_name)):  # fmt: skip
        raise NotModelled("block-stream: a filter-node-name taken or not well formed is not modelled")
    speed = args.get("speed") or 0
    assert isinstance(speed, int), "the input visitor checked 'speed'"
    if device.driver != "qcow2" or device.filter_of is not None:
        raise NotModelled("block-stream: a device other than a qcow2 node is not modelled")
    reached = [node for layer in chain(device) for node in (layer, *layer.children())]
    if any(export.node in reached for export in graph.exports) or any(n.backend is not None for n in reached):
        raise NotModelled("block-stream: an exported chain or one under -drive is not modelled")
    _check_writable(graph, device)
    between = layers[1 : layers.index(base)] if base is not None else layers[1:]
    limited = rate_limited_stream.plan(graph, args, device, between) if speed > 0 else None
    # The copy-on-read filter is inserted before the job is created: unnamed, it takes the next
    # #block number even when the speed is then refused (qsd 7.2), shown or not.
    auto_name = graph.next_auto_name() if filter_name is None else None
    if speed < 0:  # block_job_create refuses it: the job exists, then goes (qsd 7.2)
        for state in ("created", "null"):
            graph.emit("JOB_STATUS_CHANGE", status(job_id, state))
        raise BlockError(SPEED_ERROR)
    length = 0
    if between:
        if device.image is None:
            raise NotModelled("block-stream: a device without a known size is not modelled")
        length = device.image.virtual_size
    bottom = between[-1] if between else None
    frozen = list(pairwise(layers))[: layers.index(bottom)] if bottom is not None else []

    blocked = [device, *between]
    read_only = read_only_group(device)
    # the job holds its op blockers and a shown filter while it waits or runs limited
    holds = args.get("auto-finalize") is False or limited is not None

    def release() -> None:
        for node in blocked if holds else ():
            node.blockers.remove(STREAM_BLOCKER)
        if job.shown_filter is not None:
            graph.remove_filter(job.shown_filter)
            job.shown_filter = None

    def change() -> None:
        release()
        _drop_layers(graph, device, bottom, backing_file)
        after_stream(graph, read_only)
        if not device.parents and not device.monitor_owned and not graph.exported(device):
            graph.drop(device)  # its parent let it go while the job waited: the job held it last

    job = ManualCommitJob(
        job_id, device, length, "pending", args.get("auto-finalize") is not False,
        args.get("auto-dismiss") is not False, change, "stream", frozen, list(device.parents),
    )  # fmt: skip
    job.implicit_filter = filter_name is None
    for node in blocked if holds else ():
        node.blockers.insert(0, STREAM_BLOCKER)  # the job's op blocker, newest (seen by blockdev-del)
    if holds and not device.parents and not device.read_only:
        # while it waits, the copy-on-read filter shows in query-named-block-nodes (qsd 7.2)
        job.shown_filter = graph.add_filter("copy-on-read", device, filter_name, auto_name)
    for state in ("created", "running"):
        graph.emit("JOB_STATUS_CHANGE", status(job_id, state))
    for node in (device, *device.children()):
        node.stale = True  # the data is copied before the job waits: the sizes on disk changed
    if limited is not None:  # a cancel releases the job's hold and leaves the chain as it is
        rate_limited_stream.start(graph, job_id, device, length, limited, change, release)
        return
    jobs.conclude(graph, job)


def _check_writable(graph: BlockGraph, device: Node) -> None:
    """The job reopens a read-only device read-write (iotest 245's hd1, pinned on writable storage):
    only a device whose file goes along and opens for writing is modelled."""
    file = device.file_child
    if file is None or file.driver != "file":
        raise NotModelled("block-stream: a device without a file node is not modelled")
    if not (device.read_only or file.read_only):
        return
    if file not in inheriting(device) or graph.storage.open_error(file.filename, True) is not None:
        raise NotModelled("block-stream: a read-only device that may not go read-write is not modelled")


def _below_bottom(graph: BlockGraph, args: QDict, device: Node) -> Node | None:
    """The base a 'bottom' means: the node below it (the device itself as bottom: nothing to copy)."""
    name = args.get("bottom")
    assert isinstance(name, str), "the input visitor checked 'bottom'"
    bottom = graph.find(name)
    if bottom is None:
        raise lookup_error(graph.profile, "", name)
    if bottom not in chain(device) or bottom.filter_of is not None:
        raise NotModelled("block-stream: a bottom outside the chain or a filter is not modelled")
    if bottom is device:
        if device.backing is None:
            raise NotModelled("block-stream: a bottom without a node below it is not modelled")
        return device.backing
    return bottom.backing


def _check_blockers(graph: BlockGraph, streamed: list[Node]) -> None:
    """QEMU's op blocker check over the layers from the device down to the base: a waiting
    stream's (backing links do not block streaming: iotest 245 streams a backing node)."""
    if any(not (isinstance(job, ManualCommitJob) and job.kind == "stream") for job in graph.jobs.values()):
        raise NotModelled("block-stream while a commit job exists is not modelled")
    for node in streamed:
        if STREAM_BLOCKER in node.blockers:
            raise BlockError(f"Node '{node.name}' is busy: {STREAM_BLOCKER}")


def _base(graph: BlockGraph, args: QDict, device: Node) -> Node | None:
    filename = args.get("base")
    if isinstance(filename, str):  # QEMU looks the file up before it looks at 'base-node'
        return find_backing_image(graph, device, filename)
    name = args.get("base-node")
    if name is None:
        return None
    assert isinstance(name, str), "the input visitor checked 'base-node'"
    base = graph.find(name)
    if base is None:
        raise lookup_error(graph.profile, "", name)
    if base not in chain(device)[1:]:
        raise BlockError(f"Node '{name}' is not a backing image of '{device.name}'")
    return base


def _drop_layers(graph: BlockGraph, device: Node, bottom: Node | None, backing_file: str | None) -> None:
    """The device takes the bottom layer's backing node (what is below it now) as its own; its
    header names that node's file (or 'backing-file'), even when nothing was streamed."""
    if bottom is None:  # nothing was streamed: the graph keeps its shape
        if device.backing is not None:
            device.auto_backing_file = _header(device.backing, backing_file)
            device.stale = True
        return
    base = bottom.backing
    old = device.backing
    assert old is not None, "the device's backing links were frozen"
    graph.unblock_backing(old, device)
    old.parents.remove(device)
    device.backing = base
    if base is not None:
        base.parents.append(device)
        base.blockers.insert(0, backing_blocker(device))
    # the job rewrote the header: it names the base's file (or 'backing-file'), or no backing file at all
    device.auto_backing_file = _header(base, backing_file) if base is not None else ""
    for node in (device, *device.children()):
        node.stale = True
    if not old.parents and not old.monitor_owned and not graph.exported(old):
        graph.drop(old)


def _header(base: Node, backing_file: str | None) -> str:
    """What the job writes into the device's header: 'backing-file', else the base's filename."""
    return display_filename(base) if backing_file is None else backing_file


def delete_while_waiting(graph: BlockGraph, name: str) -> NoReturn:
    """blockdev-del while a stream waits for job-finalize (qsd and qemu-system 7.2): the job's op
    blocker on its device and the layers it copied, then the usual ones; a node without a blocker
    that the monitor owns may go (the filter keeps the chain): not modelled."""
    node = graph.find(name)
    if node is None:
        raise BlockError(f"Failed to find node with node-name='{name}'")
    if node.backend is not None or graph.exported(node):
        raise NotModelled("blockdev-del of a node in use while a stream waits is not modelled")
    if node.blockers:
        if "#" in node.blockers[0]:
            raise NotModelled("blockdev-del: a blocker naming an auto-named node is not modelled")
        raise BlockError(f"Node '{name}' is busy: {node.blockers[0]}")
    if not node.monitor_owned:
        raise BlockError(f"Node {name} is not owned by the monitor")
    raise NotModelled("blockdev-del of a free node while a stream waits is not modelled")
