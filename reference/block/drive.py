"""Block nodes from the command line: -drive (QemuOpts) and -blockdev/--blockdev (keyval).

-drive (if=none) builds a BlockBackend over a node whose options differ from
blockdev-add's: format= is the driver, file= a path for an inline 'file'
protocol child, auto-read-only defaults to on, and every node QEMU names
itself. Dotted backing.node-name / backing.backing (iotest 249) are options for
the backing node the header names; a missing format= is probed, modelled for a
qcow2 header only (the storage knows the header: a fact about the file).
cache=writeback|none|unsafe, detect-zeroes= and discard= are the root node's options, its
'file' child inheriting the cache modes (scenario drive-cache-options). A
failing option ends the program: one line on stderr,
"PROGRAM: OPTION VALUE: MESSAGE", exit status 1 (verified on qemu-system-x86_64
and qemu-storage-daemon 7.2).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph, backing_blocker
from reference.block.node import Node
from reference.qobject.values import QDict, QObject

EXIT_STATUS = 1  # a command-line option QEMU cannot apply: exit(1)
# QEMU's own node names: "#block", a counter, then two random digits.
AUTO_NODE_NAME = re.compile(r"#block[0-9]+[0-9]{2}")
DRIVE_KEYS = frozenset({"if", "id", "file", "format", "driver", "filename", "node-name", "read-only",
                        "auto-read-only", "backing.node-name", "backing.backing", "cache", "detect-zeroes",
                        "discard"})  # fmt: skip
BACKING_KEYS = ("backing.node-name", "backing.backing")
BOOLS = {"on": True, "off": False}
# cache=MODE as the root's cache.direct / cache.no-flush; writethrough and directsync turn the
# BlockBackend's write cache off (query-block shows it): not modelled.
CACHE_MODES = {"writeback": (False, False), "none": (True, False), "unsafe": (False, True)}
TEXT_OPTIONS = {"detect-zeroes": ("off", "on", "unmap"), "discard": ("ignore", "unmap")}


@dataclass(frozen=True)
class Drive:
    backend: str  # the BlockBackend's name (query-block's "device")
    options: QDict  # the root node's options, as blockdev-add would take them
    probe: bool = False  # format= left out: QEMU reads the header to choose the driver
    backing: QDict | None = None  # backing.* options, for the node the header names


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
        if "file" not in opts:
            raise NotModelled("-drive: a drive without file= or driver= is not modelled")
        node["driver"] = opts.get("format", "qcow2")  # probed: checked against the header on open
        node["file"] = QDict({"driver": "file", "filename": opts["file"]})
    if "node-name" in opts:
        node["node-name"] = opts["node-name"]
    for key, default in (("read-only", False), ("auto-read-only", True)):
        value = opts.get(key)
        if value is not None and value not in BOOLS:
            raise NotModelled(f"-drive: {key}={value} is not modelled")
        node[key] = default if value is None else BOOLS[value]
    if "cache" in opts:  # the root's options: its file child inherits them (add_options.py)
        if opts["cache"] not in CACHE_MODES:
            raise NotModelled(f"-drive: cache={opts['cache']} is not modelled")
        direct, no_flush = CACHE_MODES[opts["cache"]]
        node["cache"] = QDict({"direct": direct, "no-flush": no_flush})
    for key, values in TEXT_OPTIONS.items():
        if key in opts:
            if opts[key] not in values:
                raise NotModelled(f"-drive: {key}={opts[key]} is not modelled")
            node[key] = opts[key]
    backing: dict[str, QObject] = {
        key.removeprefix("backing."): opts[key] for key in BACKING_KEYS if key in opts
    }
    if backing and node["driver"] != "qcow2":
        raise NotModelled("-drive: backing.* options on a driver without backing are not modelled")
    probe = "driver" not in opts and "format" not in opts
    return Drive(opts.get("id", f"none{index}"), QDict(node), probe, QDict(backing) if backing else None)


def open_drive(graph: BlockGraph, drive: Drive) -> Node:
    """The drive's root node, added to the graph (a BlockBackend holds it, not the monitor)."""
    created: list[Node] = []
    options = _resolved(graph, drive)
    try:
        # The graph's own open: -drive needs a root without a node-name, which blockdev-add refuses.
        root = graph.open_root(options, created)
    except (BlockError, NotModelled):
        graph._forget(created)
        raise
    root.backend = drive.backend  # a parent: blockdev-del answers "in use"
    return root


def _resolved(graph: BlockGraph, drive: Drive) -> QDict:
    """The root's options once the header is read: the probed driver, the backing node's options."""
    if not drive.probe and drive.backing is None:
        return drive.options
    file = drive.options.get("file")
    assert isinstance(file, QDict)
    path = file.get("filename")
    assert isinstance(path, str)
    image = graph.storage.image(path) if graph.storage.open_error(path, False) is None else None
    if drive.probe and (image is None or image.format != "qcow2"):
        raise NotModelled("-drive: probing a format other than qcow2 (or an unreadable file) is not modelled")
    options = dict(drive.options.items())
    if drive.backing is not None:
        if image is None or image.backing_format != "qcow2" or image.full_backing_file is None:
            raise NotModelled("-drive: backing.* options without a qcow2 backing header are not modelled")
        file = QDict({"driver": "file", "filename": image.full_backing_file})
        header: dict[str, QObject] = {"driver": "qcow2", "file": file}
        options["backing"] = QDict({**header, **dict(drive.backing.items())})
    return QDict(options)


def adopt_names(graph: BlockGraph, names: dict[str, str]) -> None:
    """Give the nodes QEMU named itself the names it picked (random digits the model cannot know)."""
    renamed = [node for node in graph.nodes if node.auto_named and node.name in names]
    old_texts = {node: backing_blocker(node) for node in renamed}
    for node in renamed:
        node.name = names[node.name]
        node.auto_number = None  # the name is known exactly now
    # Op blockers name the parent that set them: they follow the new names.
    texts = {old_texts[node]: backing_blocker(node) for node in renamed}
    for node in graph.nodes:
        if any(text in texts for text in node.blockers):
            node.blockers = [texts.get(text, text) for text in node.blockers]


def keyval_options(text: str) -> QDict:
    """--blockdev TEXT (keyval: dotted keys nest, on/off are booleans) as blockdev-add's options."""
    root: dict[str, Any] = {}
    first, comma, rest = text.partition(",")
    if "=" not in first:  # -blockdev's implied key: "qcow2,node-name=..." names the driver
        text = f"driver={first}{comma}{rest}"
    for key, value in split_options(text):
        *parents, last = key.split(".")
        target = root
        for parent in parents:
            target = target.setdefault(parent, {})
        boolean = last in ("read-only", "auto-read-only") or parents[-1:] == ["cache"]
        target[last] = BOOLS.get(value, value) if boolean else value
    return _qdict(root)


def _qdict(value: dict[str, Any]) -> QDict:
    return QDict({key: _qdict(item) if isinstance(item, dict) else item for key, item in value.items()})


def open_blockdev(graph: BlockGraph, text: str) -> None:
    graph.add(keyval_options(text))


def command_line_error(program: str, option: str, value: str, message: str) -> str:
    """The line QEMU writes before exiting: the program's base name, then the option's location."""
    return f"{os.path.basename(program)}: {option} {value}: {message}"
