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
Writes: "write OFF LEN" and "aio_write OFF LEN" without flags, in sectors,
inside the image; their reports ("wrote ...", aio_write's when it completes)
are not predicted: iotest 249's scenarios run programs whose stdout the
harness does not keep (command-line launches, containers). Anything else
abstains.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.guest_data import node_size, read_runs
from reference.block.names import lookup_error
from reference.block.node import Node
from reference.block.qemu_io_report import OutputLine, pattern_failed, report
from reference.block.raw_window import visible_size

WRITES = frozenset({"write", "aio_write"})
SECTOR = 512  # unaligned requests take read-modify-write paths we do not model
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
        if request.op != "read":
            raise NotModelled("HMP qemu-io writes on a node name (a temporary BlockBackend) are not modelled")
    if request.op == "read":
        graph.output = _read(graph, root, request)
        return ""
    if root.read_only:  # checked before the request itself
        return f"Block node is read-only{HMP_EOL}"
    _check_inside(root, request.offset, request.length)
    _written(root)
    return ""


def _read(graph: BlockGraph, root: Node, request: Request) -> list[OutputLine]:
    offset, length = request.offset, request.length
    if offset + length > node_size(root):
        return [f"read failed: {EIO}"]
    runs = read_runs(graph.storage, root, offset, length)
    lines: list[OutputLine] = []
    if request.pattern is not None and any(run.byte != request.pattern for run in runs):
        lines.append(pattern_failed(offset, length))
    return lines if request.quiet else lines + report("read", offset, length)


def _request(command: str) -> Request:
    words = command.split()
    if words and words[0] == "read":
        return _read_request(words[1:])
    if len(words) != 3 or words[0] not in WRITES:
        raise NotModelled(f"HMP qemu-io: command {command!r} is not modelled")
    offset, length = (_number(word) for word in words[1:])
    if offset % SECTOR or length % SECTOR or length == 0:
        raise NotModelled("HMP qemu-io: unaligned or empty requests are not modelled")
    return Request(words[0], offset, length)


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


def _number(word: str) -> int:
    match = NUMBER.fullmatch(word)
    if match is None:
        raise NotModelled(f"HMP qemu-io: number {word!r} is not modelled")
    return int(match.group(1)) * SUFFIX[match.group(2).lower()]


def _check_inside(root: Node, offset: int, length: int) -> None:
    size = root.image.virtual_size if root.image is not None else None
    if size is None and root.facts is not None and root.driver in ("raw", "file"):
        size = visible_size(root)
    if size is None or offset + length > size:
        raise NotModelled("HMP qemu-io: a request past the end (or of unknown size) is not modelled")


def _written(root: Node) -> None:
    """The write changed the image and its file: their facts are re-read before they are reported."""
    root.stale = True
    if root.file_child is not None:
        root.file_child.stale = True
