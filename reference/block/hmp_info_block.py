"""HMP `info block`: QEMU's text for the BlockBackends (no -n) or every node (-n).

Pinned on qemu-system-x86_64 7.2; 5.2, 10.0 and 11.1 print the same.
Each entry is a first line "NAME: FILE
(DRIVER[, read-only])" (a BlockBackend: "DEVICE (NODE): ..."), then
"Removable device: not locked, tray closed" for a -drive if=none backend
(no guest device: removable, never locked, tray closed), the cache mode and,
where the node has a backing file, "Backing file: NAME (chain depth: N)".
Entries are separated by an empty line, which QEMU prints before every entry
that is not first in its list, even when a name filter dropped the ones
before it. Nodes come newest first (query-named-block-nodes' order); without
-n a graph with no BlockBackend prints nothing, and a name matching nothing
prints nothing. The lines the model cannot produce abstain: -v (the image
details), encryption, throttling, jobs' filters and bitmaps, NBD nodes, a
name QEMU made up that the oracle was not told.
"""

from __future__ import annotations

import re

from reference.block.drive import AUTO_NODE_NAME
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.block.query import CACHE_MODE, device_info
from reference.qobject.values import QDict

# Versions whose text was compared with 7.2's line by line (qemu-system 5.2, 10.0, 11.1 in
# containers, tests/block/test_iotest_scenarios.py): the same for every case the model covers.
PINNED = ("5.2", "7.2", "10.0", "11.1")
INDENT = "    "
# -drive if=none has no guest device: removable, never locked, tray closed.
REMOVABLE = f"{INDENT}Removable device: not locked, tray closed\n"
# A device name the model passes to QEMU unchanged: no quotes, no '#', no option.
PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*")


def info_block(graph: BlockGraph, rest: str) -> str:
    if graph.profile.name not in PINNED:
        raise NotModelled(f"HMP info block is pinned on QEMU {' '.join(PINNED)} only")
    nodes, name = _parse(rest)
    if graph.jobs or any(n.filter_of is not None or n.job_bitmap is not None for n in graph.nodes):
        raise NotModelled("HMP info block during a block job is not modelled")
    entries = _node_entries(graph) if nodes else _backend_entries(graph)
    kept = [(index, text) for index, (entry_name, text) in enumerate(entries) if name in (None, entry_name)]
    out = "".join(("\n" if index else "") + text for index, text in kept)
    return out.replace("\n", "\r\n")


def _parse(rest: str) -> tuple[bool, str | None]:
    """(-n given, the device/node name filter); anything else abstains."""
    words = rest.split()
    nodes = bool(words) and words[0] == "-n"
    if nodes:
        words = words[1:]
    if len(words) > 1 or (words and PLAIN_NAME.fullmatch(words[0]) is None):
        raise NotModelled(f"HMP 'info block {rest}' is not modelled (only [-n] [NAME])")
    return nodes, words[0] if words else None


def _node_entries(graph: BlockGraph) -> list[tuple[str, str]]:
    return [(node.name, _entry(graph, node, node.name)) for node in reversed(graph.nodes)]


def _backend_entries(graph: BlockGraph) -> list[tuple[str, str]]:
    roots = [node for node in graph.nodes if node.backend is not None]
    if len(roots) > 1:
        raise NotModelled("HMP info block: the order of several BlockBackends is not modelled")
    entries = []
    for node in roots:
        assert node.backend is not None
        head = f"{node.backend} ({_name(node)})"
        entries.append((node.backend, _entry(graph, node, head, REMOVABLE)))
    return entries


def _name(node: Node) -> str:
    if node.auto_named and AUTO_NODE_NAME.fullmatch(node.name) is None:
        raise NotModelled("HMP info block: a node name QEMU made up that the oracle was not told")
    return node.name


def _entry(graph: BlockGraph, node: Node, head: str, backend_lines: str = "") -> str:
    _name(node)
    if node.driver == "nbd":
        raise NotModelled("HMP info block on an NBD node is not modelled")
    info = device_info(node, False, graph.profile)
    if info.get("encrypted") is not False or info.get("detect_zeroes") != "off" or info.get("bps") != 0:
        raise NotModelled("HMP info block: encryption, detect-zeroes or throttling is not modelled")
    read_only = ", read-only" if info.get("ro") else ""
    text = f"{head}: {info.get('file')} ({info.get('drv')}{read_only})\n{backend_lines}"
    text += f"{INDENT}Cache mode:       {_cache_mode(info.get('cache'))}\n"
    backing = info.get("backing_file")
    if backing is not None:
        text += f"{INDENT}Backing file:     {backing} (chain depth: {info.get('backing_file_depth')})\n"
    return text


def _cache_mode(cache: object) -> str:
    """The node's "cache" member as HMP words it (pinned: "writeback, direct, ignore flushes")."""
    mode = cache if isinstance(cache, QDict) else CACHE_MODE
    words = "writeback" if mode.get("writeback") else "writethrough"
    words += ", direct" if mode.get("direct") else ""
    return words + (", ignore flushes" if mode.get("no-flush") else "")
