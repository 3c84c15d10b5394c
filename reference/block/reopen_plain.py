"""The plain blockdev-reopen: one qcow2 node's read-only flags, its links named as they are.

The common reopen (the truth tables', the stateful test's, the benchmark's) changes
read-only / auto-read-only of one qcow2 node and names its 'file' and backing as they
are. For it most of reference/block/reopen.py's checks cannot say anything: no job, device,
export, filter, option change, new link or inheriting backing child is involved. This
module says when a reopen is that plain (`plain_entry`: exactly the conditions under which
those checks are no-ops) and commits it (`commit`); the 'file' child opened inline with the
node (queued with it: its flags, its open for writing) and the permission check, which looks
at the whole graph, stay reopen.py's. tests/block/test_reopen_plain_model.py runs both paths
on the same graphs and compares every outcome and every node.

ENABLED switches it off for that comparison.
"""

from __future__ import annotations

from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.block.options import Flags
from reference.block.other_drivers import STICKY
from reference.block.other_roles import OTHER_DRIVERS
from reference.qobject.values import QDict, QNull

ENABLED = True
# The keys a plain entry may have: every other one is an option reopen.py checks or strips.
PLAIN_KEYS = frozenset({"driver", "node-name", "file", "backing", "read-only", "auto-read-only"})


def plain_entry(graph: BlockGraph, entries: list[QDict]) -> tuple[Node, QDict, Flags] | None:
    """The node, its entry and its new flags when the reopen is plain; None: the full path decides."""
    if not ENABLED or len(entries) != 1 or graph.jobs or graph.exports:
        return None
    devices = graph.devices
    if devices.in_use() or devices.incoming:
        return None
    entry = entries[0]
    name = entry.get("node-name")
    if entry.get("driver") != "qcow2" or not isinstance(name, str) or not PLAIN_KEYS.issuperset(entry.keys()):
        return None
    node = graph.find(name)
    if node is None or node.driver != "qcow2" or node.auto_named or not node.name_in_options:
        return None
    file, backing = node.file_child, node.backing
    # the links named as they are: 'file' by name, backing by name or null where there is none
    if file is None or file.driver != "file" or entry.get("file") != file.name:
        return None
    given = entry.get("backing")
    if backing is None:
        header = node.image is not None and bool(node.image.backing_file)
        if not isinstance(given, QNull) or header:
            return None
    elif given != backing.name or backing.driver != "qcow2":
        return None
    if backing is not None and backing.inherits_from is node:
        return None  # a backing child queued with the node: its own links and options
    if file.file_child is not None or file.backing is not None or file.extra_children:
        return None  # a file opened inline is queued with the node: only a childless one here
    if node.extra_children or node.sticky_options or node.driver in STICKY:
        return None
    if node.discard not in ("ignore", "unmap") or any(p.driver in OTHER_DRIVERS for p in node.parents):
        return None
    read_only = entry.get("read-only") if "read-only" in entry else False
    auto_read_only = entry.get("auto-read-only") if "auto-read-only" in entry else False
    assert isinstance(read_only, bool) and isinstance(auto_read_only, bool), "the input visitor checked them"
    return node, entry, Flags(read_only, auto_read_only)


def commit(node: Node, entry: QDict, new: dict[Node, Flags]) -> None:
    """What the full path writes for a plain entry, in its order: the flags (the node's, then a
    file child's queued with it), cache and detect-zeroes to the defaults an entry without them
    means (discard kept; the file child keeps all of its own), the node's explicit flags."""
    for queued, flags in new.items():
        queued.read_only, queued.auto_read_only = flags.read_only, flags.auto_read_only
    node.cache_direct, node.cache_no_flush = False, False
    node.cache_given, node.detect_zeroes = frozenset(), "off"
    node.cache_carried = frozenset()  # an entry without 'cache' carries none
    node.read_only_explicit = "read-only" in entry
    node.auto_read_only_explicit = "auto-read-only" in entry
