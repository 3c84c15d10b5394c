"""What a blockdev-reopen does to cache.*, detect-zeroes and discard (the first two show in queries).

Verified on qsd and qemu-system 7.2 (fixtures/block/cases/reopen-245-cache.json and
add-options-245.json, iotest 245): a reopened node takes its entry's cache.direct /
cache.no-flush (left out: off) and detect-zeroes (left out: "off"); its discard stays as it
was unless the entry sets it. The children that inherit its options and that its entry names
as they are (file or backing by node-name) keep the cache members they set themselves and
take each other member the entry sets (else keep theirs); their own children then take
every member of theirs, and so on down. Such children keep detect-zeroes and discard
(neither is handed down). A child given inline options starts from those, then the members
the entry sets, then the defaults (discard "unmap": its parent is a format node), and hands
its cache members down to its own children in turn (iotest 245's test_reopen: a backing
child and its file given inline). What a node hands down is what its options carry
(Node.cache_carried): every member after an open, only the members given or inherited after a
reopen that kept nothing old (an entry's node, an inline child), its old ones joined for a
child named as it is; a child named as it is keeps the others (reopen-245-inline-backing.json:
cache.no-flush alone in a backing child's inline options leaves its file's direct). A child
named as it is that has its own entry too is queued twice: reference/block/reopen_queue_cache.py,
where cache modes are involved.
"""

from __future__ import annotations

from dataclasses import replace

from reference.block import reopen_queue_cache
from reference.block.add_options import NodeOptions, given_cache, options_of, resolve, text
from reference.block.node import Node
from reference.qobject.values import QDict


def shown_options(entries: dict[Node, QDict], named_twice: bool = False) -> dict[Node, NodeOptions]:
    """Each node the reopen changes (the entries' nodes and the children they hand down to);
    named_twice: some node has more than one entry."""
    try:
        return _shown_options(entries)
    except _QueuedTwice:  # the order of its two passes decides: reopen_queue_cache.py
        return reopen_queue_cache.shown_options(entries, named_twice)


class _QueuedTwice(Exception):
    """A child with its own entry is queued under a parent whose cache modes it could take."""


def _shown_options(entries: dict[Node, QDict]) -> dict[Node, NodeOptions]:
    shown: dict[Node, NodeOptions] = {}
    for node, entry in entries.items():
        given = given_cache(entry)
        discard = text(entry, "discard", node.discard)
        shown[node] = NodeOptions(
            (given.get("direct", False), given.get("no-flush", False)), frozenset(given),
            text(entry, "detect-zeroes", "off"), discard, frozenset(given),
        )  # fmt: skip
        _hand_down(node, entry, given, entries, shown)
    return shown


def inline_options(entry: QDict, options: QDict) -> NodeOptions:
    """A 'file' child reopened with inline options under ENTRY."""
    return resolve(options, given_cache(entry), child_of_format=True)


def _hand_down(
    node: Node, options: QDict | None, passed: dict[str, bool], entries: dict[Node, QDict],
    shown: dict[Node, NodeOptions],
) -> None:  # fmt: skip
    """The children queued under `node`; `options` is its entry (None: it keeps its old ones);
    `passed`: the cache members its new options carry."""
    for child in node.children():
        if child.inherits_from is not node:
            continue  # opened elsewhere: not queued with the node
        named = options.get("file" if child is node.file_child else "backing") if options else child.name
        if not isinstance(named, QDict) and named != child.name:
            continue  # detached or replaced: not queued
        old = options_of(child)
        if child in entries:  # queued twice: its entry decides unless cache modes are involved
            if passed or old.cache != (False, False) or old.cache_given:
                raise _QueuedTwice
            continue
        if isinstance(named, QDict):  # inline options: no old ones kept
            new = replace(
                resolve(named, passed, child_of_format=True),
                carried=frozenset(given_cache(named)) | set(passed),
            )
            shown[child] = new
            _hand_down(child, named, new.carried_down(), entries, shown)  # its children, as given there
            continue
        cache = tuple(
            was if member in old.cache_given else passed.get(member, was)
            for member, was in zip(("direct", "no-flush"), old.cache, strict=True)
        )
        assert len(cache) == 2
        carried = old.carried | old.cache_given | set(passed)  # its old options joined
        new = NodeOptions((cache[0], cache[1]), old.cache_given, old.detect_zeroes, old.discard, carried)
        shown[child] = new
        _hand_down(child, None, new.carried_down(), entries, shown)
