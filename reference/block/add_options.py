"""cache.direct / cache.no-flush, detect-zeroes and discard: given to a node or inherited, at open and reopen.

Verified on qsd and qemu-system 7.2 (fixtures/block/cases/add-options-245.json, iotest 245's
test_backing_reference). A child QEMU opens with its parent (inline 'file' or 'backing', or the
backing file the header names) takes each cache member it does not set from its parent's
resolved values; a node opened on its own starts from off. detect-zeroes is never inherited
("off" unless given). discard is "ignore" on a node opened on its own, and a child of a format
node defaults to "unmap", so detect-zeroes "unmap" needs no discard there. detect-zeroes
"unmap" without discard "unmap" is refused when the node opens: after its 'file' child
opened, before its node-name is claimed; a backing node's error gains "Could not open
backing file: ".

Which cache members a node set itself decides what a reopen does with a child named as it is
(reference/block/reopen_cache.py). A reopen entry that leaves discard out keeps the node's
discard (unlike every other option); a child named as it is keeps its discard and detect-zeroes,
so whether those were given or inherited shows nowhere: only their values are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reference.block.errors import NotModelled
from reference.block.node import Node
from reference.qobject.values import QDict

MEMBERS = ("direct", "no-flush")
UNMAP_REFUSED = "setting detect-zeroes to unmap is not allowed without setting discard operation to unmap"


@dataclass(frozen=True)
class NodeOptions:
    cache: tuple[bool, bool] = (False, False)  # direct, no-flush
    cache_given: frozenset[str] = frozenset()  # the members the node's own options set
    detect_zeroes: str = "off"
    discard: str = "ignore"
    carried: frozenset[str] = frozenset(MEMBERS)  # the members its options carry (Node.cache_carried)

    def passed_down(self) -> dict[str, bool]:
        """What a child opened with the node inherits: every member, resolved."""
        return dict(zip(MEMBERS, self.cache, strict=True))

    def carried_down(self) -> dict[str, bool]:
        """What a child reopened under the node takes: the members its options carry."""
        return {
            member: value for member, value in zip(MEMBERS, self.cache, strict=True) if member in self.carried
        }


def given_cache(opts: QDict) -> dict[str, bool]:
    """The cache members the options set."""
    cache = opts.get("cache")
    if not isinstance(cache, QDict):
        return {}
    given = {member: cache.get(member) for member in MEMBERS if member in cache}
    if not all(isinstance(value, bool) for value in given.values()):  # keyval text QEMU would refuse
        raise NotModelled("cache members that are not booleans are not modelled")
    return {member: value for member, value in given.items() if isinstance(value, bool)}


def text(opts: QDict, key: str, default: str) -> str:
    value = opts.get(key) if key in opts else default
    assert isinstance(value, str), f"the input visitor checked {key!r}"
    return value


def resolve(opts: QDict, inherited: dict[str, bool], child_of_format: bool) -> NodeOptions:
    """A node's options from its own, what its parent hands down, and the defaults."""
    own = given_cache(opts)
    direct, no_flush = (own.get(member, inherited.get(member, False)) for member in MEMBERS)
    discard = text(opts, "discard", "unmap" if child_of_format else "ignore")
    return NodeOptions((direct, no_flush), frozenset(own), text(opts, "detect-zeroes", "off"), discard)


def open_options(opts: QDict, parent: NodeOptions | None) -> NodeOptions:
    """blockdev-add: parent is the node's that opens it with itself (None: opened on its own)."""
    if "cache" not in opts and "discard" not in opts and "detect-zeroes" not in opts:
        # none of its own: what resolve() gives then depends on the parent's cache alone
        return plain_options(parent)
    return resolve(opts, parent.passed_down() if parent else {}, parent is not None)


def plain_options(parent: NodeOptions | None) -> NodeOptions:
    """open_options() of options without cache, discard and detect-zeroes."""
    return _PLAIN[parent.cache if parent is not None else None]


# open_options() of options without cache, discard and detect-zeroes, by the parent's cache (None: no parent).
_PLAIN: dict[tuple[bool, bool] | None, NodeOptions] = {
    None: resolve(QDict(), {}, False),
    **{
        (direct, no_flush): resolve(QDict(), {"direct": direct, "no-flush": no_flush}, True)
        for direct in (False, True)
        for no_flush in (False, True)
    },
}


def zeroes_error(options: NodeOptions) -> str | None:
    return UNMAP_REFUSED if options.detect_zeroes == "unmap" and options.discard != "unmap" else None


def options_of(node: Node) -> NodeOptions:
    cache = (node.cache_direct, node.cache_no_flush)
    return NodeOptions(cache, node.cache_given, node.detect_zeroes, node.discard, node.cache_carried)


def apply(node: Node, options: NodeOptions) -> None:
    node.cache_direct, node.cache_no_flush = options.cache
    node.cache_given, node.detect_zeroes = options.cache_given, options.detect_zeroes
    node.discard, node.cache_carried = options.discard, options.carried


def node_fields(options: NodeOptions) -> dict[str, Any]:
    """What apply() sets, as Node() keywords: a new node takes them without a stamped write each."""
    direct, no_flush = options.cache
    return {"cache_direct": direct, "cache_no_flush": no_flush, "cache_given": options.cache_given,
            "detect_zeroes": options.detect_zeroes, "discard": options.discard}  # fmt: skip


def leftover_error(driver: str, opts: QDict) -> str | None:
    """An empty 'cache' ({}): QEMU's flattening keeps it as a value no open consumes, so the node
    fails once it opened (children and backing too) as having an unknown option (qsd 7.2)."""
    cache = opts.get("cache")
    if not isinstance(cache, QDict) or len(cache.keys()) != 0:
        return None
    if driver == "file":
        return f"Block protocol '{driver}' doesn't support the option 'cache'"
    if driver in ("qcow2", "raw"):
        return f"Block format '{driver}' does not support the option 'cache'"
    raise NotModelled(f"blockdev-add: an empty 'cache' for a {driver} node is not modelled")


def empty_cache_in(options: QDict) -> bool:
    """Any empty 'cache' in the options or their inline children's (reopen: "Cannot change the
    option 'cache'" on qsd 7.2, at a point among the other checks that is not pinned)."""
    cache = options.get("cache")
    if isinstance(cache, QDict) and len(cache) == 0:
        return True
    children = [options.get(key) for key in options.keys()]  # noqa: SIM118 (a QDict, not a dict)
    return any(isinstance(child, QDict) and empty_cache_in(child) for child in children)
