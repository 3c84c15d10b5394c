"""block-commit of a non-active layer (QEMU 7.2), finishing at once, with the events it emits.

Verified on qsd 7.2 (auto-finalize and auto-dismiss on): the job is created
("created"), then the base is reopened read-write; if that fails the job is
dismissed ("null") and the command fails with the reopen's error. Otherwise
"running" comes before the reply, and after it "waiting", "pending",
BLOCK_JOB_COMPLETED (len = offset = the top's size, speed 0), "concluded",
"null". The base is read-only again afterwards, the overlay's backing is the
base, and the overlay's header names the base. Events are predicted as a
sequence; the harness collects them after the job finishes.
"""

from __future__ import annotations

from reference.block.errors import BlockError, NotModelled
from reference.block.filenames import display_filename
from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.qobject.values import QDict

COMMIT_ARGUMENTS = frozenset({"job-id", "device", "top-node", "base-node"})


def block_commit(graph: BlockGraph, args: QDict) -> None:
    extra = sorted(set(args.keys()) - COMMIT_ARGUMENTS)
    if extra:
        raise NotModelled(f"block-commit: argument {extra[0]} is not modelled")
    job_id, device, top, base = (_text(args, key) for key in ("job-id", "device", "top-node", "base-node"))
    overlay, top_node, base_node = graph.find(device), graph.find(top), graph.find(base)
    if overlay is None or top_node is None or base_node is None:
        raise NotModelled("block-commit: unknown nodes are not modelled")
    chain = _chain(overlay)
    if top_node is overlay or top_node not in chain or base_node not in _chain(top_node)[1:]:
        raise NotModelled("block-commit: only a non-active commit within one chain is modelled")
    above_top = chain[chain.index(top_node) - 1]
    if above_top.read_only or top_node.image is None or top_node.image.virtual_size != _size(base_node):
        raise NotModelled("block-commit: a read-only overlay or differing sizes are not modelled")
    graph.emit("JOB_STATUS_CHANGE", _status(job_id, "created"))
    try:
        _reopen_writable(graph, base_node)
    except BlockError:
        graph.emit("JOB_STATUS_CHANGE", _status(job_id, "null"))
        raise
    graph.emit("JOB_STATUS_CHANGE", _status(job_id, "running"))
    for status in ("waiting", "pending"):
        graph.emit("JOB_STATUS_CHANGE", _status(job_id, status))
    length = top_node.image.virtual_size
    data = QDict({"type": "commit", "device": job_id, "len": length, "offset": length, "speed": 0})
    graph.emit("BLOCK_JOB_COMPLETED", data)
    for status in ("concluded", "null"):
        graph.emit("JOB_STATUS_CHANGE", _status(job_id, status))
    _drop_intermediates(graph, above_top, top_node, base_node)


def _text(args: QDict, key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise NotModelled(f"block-commit without {key} is not modelled")
    return value


def _chain(node: Node) -> list[Node]:
    chain = [node]
    while (below := chain[-1].backing) is not None:
        chain.append(below)
    return chain


def _size(node: Node) -> int | None:
    return node.image.virtual_size if node.image is not None else None


def _status(job_id: str, status: str) -> QDict:
    return QDict({"id": job_id, "status": status})


def _inheriting(node: Node) -> list[Node]:
    """The node and the children a reopen takes along: inline/implicit ones without their own read-only."""
    found = [node]
    for child in node.children():
        if child.inherits_from is node and not child.read_only_explicit:
            found += _inheriting(child)
    return found


def _reopen_writable(graph: BlockGraph, base: Node) -> None:
    # The base goes read-write, its inheriting children with it; a child it
    # does not take along must already be writable.
    group = _inheriting(base)
    file = base.file_child
    if base.driver != "qcow2" or file is None or file.driver != "file":
        raise NotModelled("block-commit: only a qcow2 base over a file node is modelled")
    if file not in group and file.read_only:
        raise NotModelled("block-commit: a base over a read-only node it does not reopen is not modelled")
    error = graph.storage.open_error(file.filename, True)
    if error is not None:
        raise BlockError(f"Could not open '{file.filename}': {error}")


def _drop_intermediates(graph: BlockGraph, overlay: Node, top: Node, base: Node) -> None:
    top.parents.remove(overlay)
    base.parents.append(overlay)
    overlay.backing = base
    # The commit rewrote the overlay's header to name the base.
    overlay.auto_backing_file = display_filename(base)
    for node in (overlay, base, *base.children()):
        node.stale = True
    if not top.parents and not top.monitor_owned:
        graph.drop(top)
