"""Cache modes when a blockdev-reopen queues a node twice: its own entry and under its parent.

Verified on qsd and qemu-system 7.2 (fixtures/block/cases/reopen-245-child-cache.json). QEMU
builds one queue entry per node; a node named as it is by a parent's entry (file or backing by
node-name) is queued again under it, and the later pass starts from the options the earlier one
kept as the node's own (its "explicit" options):

- its own entry first: the parent's pass keeps the entry's members, takes each other member
  the parent's options carry, then the node's old value;
- the parent first: that pass starts from the node's old own members; its entry then joins
  them (the entry winning) and nothing else: a member set by neither is off, whatever the
  parent's entry says.

Whatever the node's options end up carrying is handed to its own children queued under it
(they keep their own members, then take those, then keep their old value), in every pass. A
node's own members after the reopen are those its last pass started from. This is what
reference/block/reopen_cache.py does for a single pass; only the shapes above are modelled:
a 'file' child named as it is by its parent's entry, both with their own entries (an inline
child of a node queued twice, a node named twice, detect-zeroes on one, or a backing child or a
grandchild with its own entry are not; a backing child's read-only there:
reference/block/reopen_backing_entry.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reference.block.add_options import MEMBERS, NodeOptions, given_cache, options_of, text
from reference.block.errors import NotModelled
from reference.block.node import Node
from reference.qobject.values import QDict

Members = dict[str, bool]


@dataclass
class _Queued:
    own: Members  # what the pass kept as the node's own options
    options: Members  # every member the node's options carry after the pass
    children: list[Node] = field(default_factory=list)


def shown_options(entries: dict[Node, QDict], named_twice: bool) -> dict[Node, NodeOptions]:
    """Each queued node's cache modes (and the detect-zeroes / discard its entry gives)."""
    if named_twice:
        raise NotModelled("blockdev-reopen: a node named twice and queued under its parent is not modelled")
    queue: dict[Node, _Queued] = {}
    for node, entry in entries.items():
        for key in entry.keys():  # noqa: SIM118 (a QDict, not a dict)
            if isinstance(entry.get(key), QDict) and key != "cache":
                raise NotModelled("blockdev-reopen: inline options with a node queued twice are not modelled")
        _queue(queue, entries, node, given_cache(entry), entry, keep_old=False, parent=None)
    shown: dict[Node, NodeOptions] = {}
    for node, queued in queue.items():
        old = options_of(node)
        cache = (queued.options.get("direct", False), queued.options.get("no-flush", False))
        own_entry = entries.get(node)
        carried = frozenset(queued.options)
        if own_entry is None:  # queued under a parent only: keeps detect-zeroes and discard
            shown[node] = NodeOptions(cache, frozenset(queued.own), old.detect_zeroes, old.discard, carried)
            continue
        if node in _children_of(queue) and old.detect_zeroes != "off":
            raise NotModelled("blockdev-reopen: detect-zeroes of a node queued twice is not modelled")
        zeroes, discard = text(own_entry, "detect-zeroes", "off"), text(own_entry, "discard", node.discard)
        shown[node] = NodeOptions(cache, frozenset(queued.own), zeroes, discard, carried)
    return shown


def _queue(
    queue: dict[Node, _Queued], entries: dict[Node, QDict], node: Node, given: Members,
    entry: QDict | None, keep_old: bool, parent: Members | None,
) -> None:  # fmt: skip
    """One pass of QEMU's reopen queue over `node` (given: its entry's members, or {} under a parent)."""
    old = options_of(node)
    options = dict(given)
    earlier = queue.get(node)
    if earlier is not None:
        _join(options, earlier.own)
    elif keep_old:
        set_itself = zip(MEMBERS, old.cache, strict=True)
        _join(options, {member: value for member, value in set_itself if member in old.cache_given})
    own = dict(options)
    if parent is not None:
        _join(options, parent)
    if keep_old:  # every member its old options carry: its old value
        _join(options, {member: value for member, value in zip(MEMBERS, old.cache, strict=True)
                        if member in old.carried})  # fmt: skip
    queued = _Queued(own, options)
    queue[node] = queued
    for child in _named(node, entry):
        if child in entries and (child is not node.file_child or node not in entries):
            # its read-only there is not modelled (reopen.py's _queued_flags: a file under its entry's parent)
            raise NotModelled("blockdev-reopen: a child's own entry other than a file's is not modelled")
        queued.children.append(child)
        _queue(queue, entries, child, {}, None, keep_old=True, parent=options)


def _named(node: Node, entry: QDict | None) -> list[Node]:
    """The children queued under `node`: those that took its options, named as they are (an
    entry naming another node or null detaches them; inline options are not modelled here)."""
    found = []
    for child in node.children():
        if child.inherits_from is not node:
            continue
        if entry is not None:
            named = entry.get("file" if child is node.file_child else "backing")
            if named != child.name:
                continue
        found.append(child)
    return found


def _children_of(queue: dict[Node, _Queued]) -> set[Node]:
    return {child for queued in queue.values() for child in queued.children}


def _join(options: Members, more: Members) -> None:
    for member, value in more.items():
        options.setdefault(member, value)
