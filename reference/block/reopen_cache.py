"""What a blockdev-reopen does to the options query-named-block-nodes shows: cache.*, detect-zeroes.

Verified on qsd and qemu-system 7.2 (fixtures/block/cases/reopen-245-cache.json, iotest 245):
a reopened node takes its entry's cache.direct / cache.no-flush (left out: off) and its
detect-zeroes (left out: "off"). The children that inherit its options and that its entry
names as they are (file or backing by node-name) keep their own values, but take each
cache member the entry sets, and so do their children in turn; detect-zeroes is not handed
down. A child given inline options starts from the defaults plus the members the entry sets.
"""

from __future__ import annotations

from reference.block.errors import NotModelled
from reference.block.node import Node
from reference.qobject.values import QDict

Shown = tuple[bool, bool, str]  # cache.direct, cache.no-flush, detect-zeroes
MEMBERS = ("direct", "no-flush")


def shown_options(entries: dict[Node, QDict]) -> dict[Node, Shown]:
    """Each node the reopen changes (the entries' nodes and the children they hand down to)."""
    shown: dict[Node, Shown] = {}
    for node, entry in entries.items():
        given = _cache_given(entry)
        zeroes = entry.get("detect-zeroes") if "detect-zeroes" in entry else "off"
        assert isinstance(zeroes, str), "the input visitor checked 'detect-zeroes'"
        shown[node] = (given.get("direct", False), given.get("no-flush", False), zeroes)
        _hand_down(node, entry, given, entries, shown)
    return shown


def _cache_given(entry: QDict) -> dict[str, bool]:
    cache = entry.get("cache")
    if not isinstance(cache, QDict):
        return {}
    given = {member: cache.get(member) for member in MEMBERS if member in cache}
    return {member: value for member, value in given.items() if isinstance(value, bool)}


def _hand_down(
    node: Node, options: QDict | None, given: dict[str, bool], entries: dict[Node, QDict],
    shown: dict[Node, Shown],
) -> None:  # fmt: skip
    """The children queued under `node`; `options` is its entry (None: it keeps its old ones)."""
    for child in node.children():
        if child.inherits_from is not node:
            continue  # opened elsewhere: not queued with the node
        named = options.get("file" if child is node.file_child else "backing") if options else child.name
        if not isinstance(named, QDict) and named != child.name:
            continue  # detached or replaced: not queued
        old = (child.cache_direct, child.cache_no_flush)
        if child in entries:  # queued twice: which options win is not pinned
            if given or old != (False, False):
                raise NotModelled("blockdev-reopen: cache modes of a child with an entry are not modelled")
            continue
        if isinstance(named, QDict):  # inline options: no old ones kept
            if given and child.children():
                raise NotModelled("blockdev-reopen: cache modes below an inline child are not modelled")
            shown[child] = (given.get("direct", False), given.get("no-flush", False), "off")
            continue
        direct, no_flush = (given.get(member, was) for member, was in zip(MEMBERS, old, strict=True))
        shown[child] = (direct, no_flush, child.detect_zeroes)
        _hand_down(child, None, given, entries, shown)
