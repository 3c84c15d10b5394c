"""Block nodes from the command line: -drive (QemuOpts) and -blockdev/--blockdev (keyval).

-drive (if=none) builds a BlockBackend over a node whose options differ from
blockdev-add's: format= is the driver, file= a path for an inline 'file'
protocol child, auto-read-only defaults to on, and every node QEMU names
itself. A failing option ends the program: one line on stderr,
"PROGRAM: OPTION VALUE: MESSAGE", exit status 1 (verified on qemu-system-x86_64
and qemu-storage-daemon 7.2).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.block.options import Flags
from reference.qobject.values import QDict

EXIT_STATUS = 1  # a command-line option QEMU cannot apply: exit(1)
# QEMU's own node names: "#block", a counter, then two random digits.
AUTO_NODE_NAME = re.compile(r"#block[0-9]+[0-9]{2}")
DRIVE_KEYS = frozenset({"if", "id", "file", "format", "driver", "filename", "node-name", "read-only",
                        "auto-read-only"})  # fmt: skip
BOOLS = {"on": True, "off": False}


@dataclass(frozen=True)
class Drive:
    backend: str  # the BlockBackend's name (query-block's "device")
    options: QDict  # the root node's options, as blockdev-add would take them


def split_options(text: str) -> list[tuple[str, str]]:
    """QemuOpts "k=v,k=v" (",," is a comma inside a value)."""
    pairs: list[tuple[str, str]] = []
    for part in re.split(r"(?<!,),(?!,)", text):
        key, sep, value = part.partition("=")
        if not sep:
            raise NotModelled(f"-drive: option {part!r} without a value is not modelled")
        pairs.append((key, value.replace(",,", ",")))
    return pairs


def parse_drive(text: str, index: int = 0) -> Drive:
    """-drive TEXT, the index-th drive of its interface, as a node's options."""
    opts = dict(split_options(text))
    unknown = sorted(set(opts) - DRIVE_KEYS)
    if unknown:
        raise NotModelled(f"-drive: option {unknown[0]} is not modelled")
    if opts.get("if") != "none":
        raise NotModelled("-drive: only if=none is modelled")
    node: dict[str, Any] = {}
    if "driver" in opts:
        if "format" in opts or "file" in opts:
            raise NotModelled("-drive: driver= with format= or file= is not modelled")
        node["driver"] = opts["driver"]
        if "filename" in opts:
            node["filename"] = opts["filename"]
    else:
        if "format" not in opts or "file" not in opts:
            raise NotModelled("-drive: probing an image's format is not modelled")
        node["driver"] = opts["format"]
        node["file"] = QDict({"driver": "file", "filename": opts["file"]})
    if "node-name" in opts:
        node["node-name"] = opts["node-name"]
    for key, default in (("read-only", False), ("auto-read-only", True)):
        value = opts.get(key)
        if value is not None and value not in BOOLS:
            raise NotModelled(f"-drive: {key}={value} is not modelled")
        node[key] = default if value is None else BOOLS[value]
    return Drive(opts.get("id", f"none{index}"), QDict(node))


def open_drive(graph: BlockGraph, drive: Drive) -> Node:
    """The drive's root node, added to the graph (a BlockBackend holds it, not the monitor)."""
    created: list[Node] = []
    try:
        # The graph's own open: -drive needs a root without a node-name, which blockdev-add refuses.
        root = graph._open(drive.options, Flags(), created, None)
    except (BlockError, NotModelled):
        graph._forget(created)
        raise
    root.backend = drive.backend  # a parent: blockdev-del answers "in use"
    return root


def adopt_names(graph: BlockGraph, names: dict[str, str]) -> None:
    """Give the nodes QEMU named itself the names it picked (random digits the model cannot know)."""
    for node in graph.nodes:
        if node.auto_named and node.name in names:
            node.name = names[node.name]


def keyval_options(text: str) -> QDict:
    """--blockdev TEXT (keyval: dotted keys nest, on/off are booleans) as blockdev-add's options."""
    root: dict[str, Any] = {}
    for key, value in split_options(text):
        *parents, last = key.split(".")
        target = root
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = BOOLS.get(value, value) if last in ("read-only", "auto-read-only") else value
    return _qdict(root)


def _qdict(value: dict[str, Any]) -> QDict:
    return QDict({key: _qdict(item) if isinstance(item, dict) else item for key, item in value.items()})


def open_blockdev(graph: BlockGraph, text: str) -> None:
    graph.add(keyval_options(text))


def command_line_error(program: str, option: str, value: str, message: str) -> str:
    """The line QEMU writes before exiting: the program's base name, then the option's location."""
    return f"{os.path.basename(program)}: {option} {value}: {message}"
