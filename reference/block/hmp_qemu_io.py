"""HMP `qemu-io DEVICE "COMMAND"` on a BlockBackend: the writes iotest 249 sends.

Pinned on qemu-system-x86_64 7.2: a write to a read-only drive answers
"Block node is read-only"; a write that goes through answers "" (qemu-io's
own report goes to QEMU's stdout, not to the monitor); an unknown name
answers "Error: Cannot find device='' nor node-name='NAME'". Only "write OFF
LEN" and "aio_write OFF LEN" without flags, in sectors inside the image, on a
BlockBackend's name are modelled; anything else abstains.
"""

from __future__ import annotations

import re
import shlex

from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.names import lookup_error
from reference.block.node import Node

WRITES = frozenset({"write", "aio_write"})
SECTOR = 512  # unaligned requests take read-modify-write paths we do not model
# qemu-io's numbers: decimal with an optional binary suffix.
NUMBER = re.compile(r"([0-9]+)([kKmMgG]?)")
SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
HMP_EOL = "\r\n"  # the monitor turns each "\n" of the output into "\r\n"


def qemu_io(graph: BlockGraph, rest: str) -> str:
    try:
        words = shlex.split(rest)
    except ValueError as err:
        raise NotModelled(f"HMP qemu-io: cannot split {rest!r}: {err}") from None
    if len(words) != 2 or words[0].startswith("-"):
        raise NotModelled("HMP qemu-io: only 'qemu-io DEVICE \"COMMAND\"' is modelled")
    device, command = words
    offset, length = _write_request(command)
    root = next((node for node in graph.nodes if node.backend == device), None)
    if root is None:
        if graph.find(device) is not None:
            raise NotModelled("HMP qemu-io on a node name (a temporary BlockBackend) is not modelled")
        return f"Error: {lookup_error(graph.profile, '', device).desc}{HMP_EOL}"
    if root.read_only:  # checked before the request itself
        return f"Block node is read-only{HMP_EOL}"
    _check_inside(root, offset, length)
    _written(root)
    return ""


def _write_request(command: str) -> tuple[int, int]:
    words = command.split()
    if len(words) != 3 or words[0] not in WRITES:
        raise NotModelled(f"HMP qemu-io: command {command!r} is not modelled")
    offset, length = (_number(word) for word in words[1:])
    if offset % SECTOR or length % SECTOR or length == 0:
        raise NotModelled("HMP qemu-io: unaligned or empty requests are not modelled")
    return offset, length


def _number(word: str) -> int:
    match = NUMBER.fullmatch(word)
    if match is None:
        raise NotModelled(f"HMP qemu-io: number {word!r} is not modelled")
    return int(match.group(1)) * SUFFIX[match.group(2).lower()]


def _check_inside(root: Node, offset: int, length: int) -> None:
    size = root.image.virtual_size if root.image is not None else None
    if size is None and root.facts is not None and root.driver in ("raw", "file"):
        size = root.facts.size
    if size is None or offset + length > size:
        raise NotModelled("HMP qemu-io: a request past the end (or of unknown size) is not modelled")


def _written(root: Node) -> None:
    """The write changed the image and its file: their facts are re-read before they are reported."""
    root.stale = True
    if root.file_child is not None:
        root.file_child.stale = True
