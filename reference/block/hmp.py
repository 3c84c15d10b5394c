"""human-monitor-command on the block graph: the few HMP commands the block cases send.

QMP wraps HMP: the command's text output comes back as the "return" string
(lines end in "\r\n"). Only the commands QEMU's iotests use on block nodes are
modelled, each in its own module; any other command line abstains.
"""

from __future__ import annotations

from collections.abc import Callable

from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.hmp_info_block import info_block
from reference.block.hmp_qemu_io import qemu_io
from reference.qobject.values import QDict, QObject

# The command's first word (or two) and the handler taking the rest of the line.
HmpHandler = Callable[[BlockGraph, str], str]
HMP_COMMANDS: dict[tuple[str, ...], HmpHandler] = {
    ("info", "block"): info_block,
    ("qemu-io",): qemu_io,
}


def human_monitor_command(graph: BlockGraph, args: QDict) -> QObject:
    line = args.get("command-line")
    assert isinstance(line, str), "the input visitor checked 'command-line'"
    words = line.split()
    for prefix, handler in HMP_COMMANDS.items():
        if tuple(words[: len(prefix)]) == prefix:
            rest = line.strip()[len(" ".join(prefix)) :].strip()
            return handler(graph, rest)
    raise NotModelled(f"HMP command {line!r} is not modelled")
