"""HMP `qemu-io DEVICE "COMMAND"`: the writes iotest 249 sends and the reads iotest 245 checks data with.

Pinned on qemu-system-x86_64 7.2: the monitor answers "" whatever the
request did, and qemu-io's own report goes to QEMU's standard output
(reference/block/qemu_io_report.py): the oracle predicts those lines too
(BlockGraph.output). A write to a read-only drive answers "Block node is
read-only"; an unknown name answers "Error: Cannot find device='' nor
node-name='NAME'". DEVICE is a BlockBackend's name, or (reads only) a node
name, which QEMU wraps in a temporary BlockBackend.

Reads: "read [-q] [-P PATTERN] OFFSET LENGTH". What they return comes from
reference/block/guest_data.py; a request past the node's end fails with
"read failed: Input/output error"; -P compares every byte with PATTERN.
Writes (pinned on 7.2, io-writes.json): "write [-q] [-P PATTERN | -z] OFFSET
LENGTH" and the same with aio_write, any alignment; the pattern is 0xcd
unless given, -z writes zeros (-z -u too: unmapping still reads zeros). A
read-only node answers "Block node is read-only" (the monitor's reply); a request past the end prints "write
failed: Input/output error" ("aio_write failed: ..."); else "wrote N/N bytes
at offset O" and the timing line. aio_write's report comes when the request
completes: on a node name before the reply (the temporary BlockBackend is
drained as it goes), on a -drive BlockBackend after it, and a read sent at
once can then overtake the write (seen on 7.2: the old data). The harness
waits for each predicted report before the next command, so the oracle's
order holds wherever stdout is read; aio_write -z's timing line counts from
the clock's zero (7.2 never sets its start), which the timing matcher takes. The write
changes the data later reads see (reference/block/guest_writes.py). A node
name gets a temporary unnamed BlockBackend that asks for write as the
node's newest user: a qcow2 parent unshares it ("Permission conflict on node
'F': permissions 'write' are both required by an unnamed block device (uses
node 'F' as 'root' child) and unshared by node 'Q' (uses node 'F' as 'file'
child)."), checked before read-only. Anything else
abstains.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from reference.block.compress_filter import compressed_write_succeeds, target_of
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.guest_data import node_size, read_runs
from reference.block.names import lookup_error
from reference.block.node import Node
from reference.block.permissions import (
    ALL,
    CONSISTENT_READ,
    UNNAMED_DEVICE,
    WRITE,
    User,
    first_conflict,
    users_of,
)
from reference.block.qcow2_hosting import unmap_reaches
from reference.block.qemu_io_report import OutputLine, pattern_failed, report

WRITES = frozenset({"write", "aio_write"})
DEFAULT_PATTERN = 0xCD  # qemu-io's write pattern when -P is not given
# qemu-io's numbers: decimal with an optional binary suffix.
NUMBER = re.compile(r"([0-9]+)([kKmMgG]?)")
SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
PATTERN = re.compile(r"0[xX][0-9a-fA-F]+|[1-9][0-9]*|0")  # strtol base 0, without octal
HMP_EOL = "\r\n"  # the monitor turns each "\n" of the output into "\r\n"
EIO = "Input/output error"


@dataclass(frozen=True)
class Request:
    op: str
    offset: int
    length: int
    pattern: int | None = None
    quiet: bool = False
    zeros: bool = False
    unmap: bool = False  # -u: the zeros may unmap (qcow2: whole clusters lose their host cluster)


def qemu_io(graph: BlockGraph, rest: str) -> str:
    try:
        words = shlex.split(rest)
    except ValueError as err:
        raise NotModelled(f"HMP qemu-io: cannot split {rest!r}: {err}") from None
    if len(words) != 2 or words[0].startswith("-"):
        raise NotModelled("HMP qemu-io: only 'qemu-io DEVICE \"COMMAND\"' is modelled")
    device, command = words
    request = _request(command)
    root = next((node for node in graph.nodes if node.backend == device), None)
    if root is None:
        root = graph.find(device)
        if root is None:
            return f"Error: {lookup_error(graph.profile, '', device).desc}{HMP_EOL}"
        conflict = None if request.op == "read" else temporary_backend_conflict(graph, root)
        if conflict is not None:  # checked before read-only
            return f"{conflict}{HMP_EOL}"
    if request.op == "read":
        graph.output = _read(graph, root, request)
        return ""
    if root.read_only:  # checked before the request itself
        return f"Block node is read-only{HMP_EOL}"
    graph.output = _write(graph, root, request)
    return ""


def temporary_backend_conflict(graph: BlockGraph, root: Node) -> str | None:
    """A write through a node name: qemu-io's unnamed BlockBackend, the node's newest user, asks
    to write; pinned on 7.2: a qcow2 parent that unshares write refuses it."""
    users = users_of(root, graph.export_users())
    newest = graph.next_seq()
    return first_conflict(root, [*users, User(UNNAMED_DEVICE, "root", CONSISTENT_READ | WRITE, ALL, newest)])


def _write(graph: BlockGraph, root: Node, request: Request) -> list[OutputLine]:
    offset, length = request.offset, request.length
    if offset + length > node_size(root):
        return [f"{request.op} failed: {EIO}"]
    byte = 0 if request.zeros else DEFAULT_PATTERN if request.pattern is None else request.pattern
    if not _lands(graph, root, request):
        return [f"{request.op} failed: {EIO}"]
    try:
        if graph.jobs:
            raise NotModelled("a job may be copying the data meanwhile")
        graph.guest_writes.write(graph.storage, root, offset, length, byte)
    except NotModelled:  # the report is still known; the data is not: its reads abstain
        for node in _below(root):
            graph.guest_writes.lose(node.filename)
    for node in graph.nodes:  # every node over a written file shows what is there now
        if node.filename in {below.filename for below in _below(root)}:
            node.written = True
    return [] if request.quiet else report("wrote", offset, length)


def _lands(graph: BlockGraph, root: Node, request: Request) -> bool:
    """Whether the write succeeds (a compressed one may not: reference/block/compress_filter.py);
    notes what it does to the qcow2 image's clusters below."""
    hosting = graph.guest_writes.hosting
    target = target_of(root, request.offset)
    if target is None:
        return True
    if target.compressed and graph.jobs:
        raise NotModelled("compress: a write while a job may be writing the image")
    if target.compressed and not compressed_write_succeeds(
        graph.storage, hosting, target, request.length, request.zeros
    ):
        return False
    unmap = request.unmap and unmap_reaches(graph.profile, root, target.image)
    hosting.note_write(
        graph.storage,
        target.image,
        target.offset,
        request.length,
        zeros=request.zeros,
        unmap=unmap,
        compressed=target.compressed,
    )
    return True


def _below(node: Node) -> list[Node]:
    """The node and the nodes its writes go down to (file children; qcow2 writes no backing)."""
    chain = [node]
    below = node.file_child
    while below is not None:
        chain.append(below)
        below = below.file_child
    return chain


def _read(graph: BlockGraph, root: Node, request: Request) -> list[OutputLine]:
    offset, length = request.offset, request.length
    if offset + length > node_size(root):
        return [f"read failed: {EIO}"]
    runs = read_runs(graph.storage, root, offset, length, graph.guest_writes)
    lines: list[OutputLine] = []
    if request.pattern is not None and any(run.byte != request.pattern for run in runs):
        lines.append(pattern_failed(offset, length))
    return lines if request.quiet else lines + report("read", offset, length)


def _request(command: str) -> Request:
    words = command.split()
    if words and words[0] == "read":
        return _read_request(words[1:])
    if not words or words[0] not in WRITES:
        raise NotModelled(f"HMP qemu-io: command {command!r} is not modelled")
    return _write_request(words[0], words[1:])


def _write_request(op: str, words: list[str]) -> Request:
    pattern, quiet, zeros, unmap = None, False, False, False
    while words and words[0].startswith("-"):
        flag = words.pop(0)
        if flag == "-q":
            quiet = True
        elif flag == "-z" and pattern is None:
            zeros = True
        elif flag == "-u" and zeros:  # may unmap: the same zeros (iotest 245's write -z -u)
            unmap = True
        elif flag == "-P" and not zeros and words and _byte(words[0]) is not None:
            pattern = _byte(words.pop(0))
        else:
            raise NotModelled(f"HMP qemu-io: {op} flag {flag} is not modelled")
    if len(words) != 2:
        raise NotModelled(f"HMP qemu-io: only '{op} [-q] [-P PATTERN | -z] OFFSET LENGTH' is modelled")
    offset, length = (_number(word) for word in words)
    if length == 0:
        raise NotModelled("HMP qemu-io: empty writes are not modelled")
    return Request(op, offset, length, pattern, quiet, zeros, unmap)


def _read_request(words: list[str]) -> Request:
    pattern, quiet = None, False
    while words and words[0].startswith("-"):
        flag = words.pop(0)
        if flag == "-q":
            quiet = True
        elif flag == "-P" and words and PATTERN.fullmatch(words[0]) and int(words[0], 0) <= 0xFF:
            pattern = int(words.pop(0), 0)
        else:
            raise NotModelled(f"HMP qemu-io: read flag {flag} is not modelled")
    if len(words) != 2:
        raise NotModelled("HMP qemu-io: only 'read [-q] [-P PATTERN] OFFSET LENGTH' is modelled")
    offset, length = (_number(word) for word in words)
    if length == 0:
        raise NotModelled("HMP qemu-io: empty reads are not modelled")
    return Request("read", offset, length, pattern, quiet)


def _byte(word: str) -> int | None:
    return int(word, 0) if PATTERN.fullmatch(word) and int(word, 0) <= 0xFF else None


def _number(word: str) -> int:
    match = NUMBER.fullmatch(word)
    if match is None:
        raise NotModelled(f"HMP qemu-io: number {word!r} is not modelled")
    return int(match.group(1)) * SUFFIX[match.group(2).lower()]
