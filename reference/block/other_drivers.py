"""quorum, blkverify, blkdebug, throttle and compress (compress_filter.py) nodes, and the options
of any driver a reopen cannot touch.

Verified on qsd and qemu-system 7.2 (iotest 245's test_misc_drivers, test_graph_cycles and
test_reset_default_values; fixtures/block/cases/reopen-245-drivers.json):

- blockdev-add: quorum checks its vote-threshold against the number of children ("threshold
  may not exceed children count") before it looks them up, and its children's lengths once
  they are all attached ("Could not refresh total sector count: Input/output error" unless
  they are alike); blkverify opens 'raw' before
  'test'; throttle opens its 'file' and then looks up its group ("Throttle group '%s' does
  not exist"); blkdebug reads its config file (only /dev/null, which is empty, is modelled:
  the oracle does no I/O). throttle's 'file' opens before the node takes its name (as any
  driver's 'file' does), the others' children after. Children come by name or inline; each
  is checked as it attaches (reference/block/permissions.py child_user: quorum shares
  neither write nor resize, the filters without users take nothing); a child a format node
  or a -drive device also uses abstains, but for throttle, which takes nothing then.
- blockdev-reopen: quorum and blkverify have no reopen ("Block format '%s' used by node '%s'
  does not support reopening files"). Options a driver keeps for good (null-co's 'size',
  file's 'locking', blkdebug's 'config' and 'align') cannot be left out ("Option '%s' cannot
  be reset to its default value", checked first) nor given a value they did not have ("Cannot
  change the option '%s'", checked last, as a new value for blkdebug's 'image' is);
  'x-check-cache-dropped' may do either. throttle may switch to another existing group. A
  child reopened inline must be reopened as it is.
- query-named-block-nodes: reference/block/other_query.py.

Read-only changes of these nodes or of their children abstain, as do users of these nodes
(exports, parents): what they then take of their children is not modelled; but for throttle
(reference/block/throttle_users.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from reference.block.compress_filter import check_child
from reference.block.errors import BlockError, NotModelled
from reference.block.node import Node
from reference.block.options import Flags, driver_of, resolve_flags
from reference.block.other_roles import OTHER_DRIVERS
from reference.block.permissions import check, child_user, users_of
from reference.block.raw_window import visible_size
from reference.block.storage import FileFacts
from reference.qobject.values import QDict, QNull, bucket_of

if TYPE_CHECKING:
    from reference.block.graph import BlockGraph

FILTERS = frozenset({"throttle", "compress"})  # one 'file' child; unused, they take nothing of it
FILE_FIRST = FILTERS  # QEMU opens any driver's 'file' before the node takes its name
NO_REOPEN = frozenset({"quorum", "blkverify", "compress"})
# quorum cannot reopen at all: its threshold is kept for its filename
STICKY = {
    "null-co": ("size",),
    "file": ("locking",),
    "blkdebug": ("config", "align"),
    "quorum": ("vote-threshold",),
}
EMPTY_CONFIG = "/dev/null"
SECTOR = 512

OpenChild = Callable[[object, Flags], Node]  # opens (inline) or looks up (by name) a child


def open_other(
    graph: BlockGraph, node: Node, opts: QDict, flags: Flags, open_child: OpenChild, file: Node | None
) -> None:
    """Open a quorum, blkverify, blkdebug or throttle node (its name already taken, its `file` opened)."""
    driver = node.driver
    if driver == "quorum":
        children = opts.get("children")
        threshold = opts.get("vote-threshold")
        assert isinstance(children, list) and isinstance(threshold, int), "the input visitor checked them"
        if not children or threshold < 1:
            raise NotModelled("blockdev-add: quorum without children or with a threshold below 1")
        if threshold > len(children):
            raise BlockError("threshold may not exceed children count")
        node.file_seq = graph.next_seq()  # when its children's permissions were taken
        for index, ref in enumerate(children):  # each child is attached (and checked) as it opens
            _attach(graph, node, open_child(ref, flags), f"children.{index}")
        if len({_length(child) for child in node.extra_children}) > 1:  # quorum's length: all alike
            raise BlockError("Could not refresh total sector count: Input/output error")
    elif driver == "blkverify":
        raw = _attach(graph, node, open_child(opts.get("raw"), flags), "raw")
        test = _attach(graph, node, open_child(opts.get("test"), flags), "test")
        node.extra_children = [test, raw]
    elif driver == "blkdebug":
        if "config" in opts and opts.get("config") != EMPTY_CONFIG:
            raise NotModelled("blockdev-add: a blkdebug config file other than /dev/null is not modelled")
        align = opts.get("align")
        if align is not None and (not isinstance(align, int) or align <= 0 or align & (align - 1)):
            raise NotModelled("blockdev-add: a blkdebug align that is not a power of two")
        _attach(graph, node, open_child(opts.get("image"), flags), "image")
    elif driver == "compress":  # reference/block/compress_filter.py
        assert file is not None, "QEMU opens a 'file' child before the node"
        _check_shared(graph, node, file, "file")
        check_child(file)
        node.file_seq = graph.next_seq()
        node.file_child = file
        file.parents.append(node)
        node.filename, node.facts = file.filename, file.facts
    else:
        child = file
        assert child is not None, "QEMU opens a 'file' child before the node"
        group = opts.get("throttle-group")
        assert isinstance(group, str), "the input visitor checked 'throttle-group'"
        if group not in graph.throttle_groups:
            raise BlockError(f"Throttle group '{group}' does not exist")
        node.file_seq = graph.next_seq()
        _check_shared(graph, node, child, "file")
        node.file_child = child
        child.parents.append(node)
        node.filename, node.facts = child.filename, child.facts
        node.throttle_group = group


def _check_shared(graph: BlockGraph, node: Node, child: Node, role: str) -> None:
    """The child's users with the node among them (a filter without users takes nothing)."""
    takes_nothing = node.driver in FILTERS  # (reference/block/reopen_filter_insert.py)
    shared = any(parent.driver not in OTHER_DRIVERS for parent in child.parents) or child.backend is not None
    if shared and not takes_nothing:
        raise NotModelled("blockdev-add: a child shared with a format node or a -drive device (permissions)")
    if child is node or child in node.children():
        raise NotModelled("blockdev-add: a node twice among the children is not modelled")
    check(child, [*users_of(child, graph.export_users()), child_user(node, role, [])])


def _attach(graph: BlockGraph, node: Node, child: Node, role: str) -> Node:
    _check_shared(graph, node, child, role)
    child.parents.append(node)
    node.extra_children = [*node.extra_children, child]
    node.facts = node.extra_children[0].facts  # the first data child's size is the node's
    return child


def _length(node: Node) -> int:
    """The node's length as QEMU counts it (whole sectors)."""
    if node.driver == "qcow2" and node.image is not None:
        return node.image.virtual_size
    if node.driver in ("file", "raw", "null-co") and node.facts is not None:
        return -(-visible_size(node) // SECTOR) * SECTOR
    raise NotModelled(f"blockdev-add: the length of a {node.driver} node under quorum is not modelled")


def record_options(node: Node, opts: QDict) -> None:
    """Keep the options a reopen may not change; null-co's size is its disk's."""
    sticky: dict[str, object] = {key: opts.get(key) for key in STICKY.get(node.driver, ()) if key in opts}
    if sticky or node.sticky_options:  # a new empty dict over an empty one would only stamp the node
        node.sticky_options = sticky
    if node.driver == "null-co" and "size" in opts:
        size = opts.get("size")
        assert isinstance(size, int), "the input visitor checked 'size'"
        if size < 0:
            raise NotModelled("blockdev-add: a negative null-co size is not modelled")
        node.facts = FileFacts(size=size, allocated=0)


def under_other_driver(node: Node) -> bool:
    """A node whose read-only change the model does not follow (throttle parents pass theirs on)."""
    others = OTHER_DRIVERS - {"throttle"}
    return node.driver in OTHER_DRIVERS or any(parent.driver in others for parent in node.parents)


def check_reset(node: Node, entry: QDict) -> None:
    """QEMU's first driver check: a kept option the entry leaves out."""
    dropped = [key for key in node.sticky_options if key not in entry]
    if dropped:
        raise BlockError(f"Option '{min(dropped, key=bucket_of)}' cannot be reset to its default value")


def sticky_changes(node: Node, entry: QDict) -> list[str]:
    """The kept options the entry gives another value (a value for one never given is a change)."""
    return [
        key
        for key in STICKY.get(node.driver, ())
        if key in entry and (key not in node.sticky_options or node.sticky_options[key] != entry.get(key))
    ]


def reopen_other(node: Node, entry: QDict, flags: Flags, groups: list[str]) -> Callable[[], None]:
    """Check a reopen of a quorum, blkverify, blkdebug or throttle node; returns its change.

    `entry` is the node's entry as given; raises before anything changes.
    """
    if node.driver in NO_REOPEN:
        raise BlockError(
            f"Block format '{node.driver}' used by node '{node.name}' does not support reopening files"
        )
    if entry.get("driver") != node.driver:
        raise NotModelled("blockdev-reopen: a new driver for a filter node is not modelled")
    if flags != Flags(node.read_only, node.auto_read_only) and node.driver != "throttle":
        raise NotModelled("blockdev-reopen: a read-only change of a filter node is not modelled")
    if any(key in entry for key in ("detect-zeroes", "discard", "cache", "force-share")):
        raise NotModelled("blockdev-reopen: generic options of a filter node are not modelled")
    check_reset(node, entry)
    child_key = "file" if node.driver in FILTERS else "image"
    child = node.file_child if node.driver in FILTERS else node.extra_children[0]
    assert child is not None, "a filter node has its 'file'"
    ref = entry.get(child_key)
    changed = sticky_changes(node, entry)
    if node.auto_named or not node.name_in_options:
        changed.append("node-name")
    group = entry.get("throttle-group")
    if node.driver == "throttle":
        assert isinstance(group, str), "the input visitor checked 'throttle-group'"
        if group not in groups:
            raise BlockError(f"Throttle group '{group}' does not exist")
    if isinstance(ref, str) and ref != child.name:
        if child_key == "file":
            raise NotModelled(f"blockdev-reopen: a new 'file' for a {node.driver} node is not modelled")
        changed.append("image")
    elif ref is None:
        raise NotModelled(f"blockdev-reopen: a filter node without its '{child_key}' is not modelled")
    if changed:
        raise BlockError(f"Cannot change the option '{min(changed, key=bucket_of)}'")
    if isinstance(ref, QDict):  # QEMU queues the child after its parent: its checks come next
        check_inline_unchanged(child, ref, flags)

    def change() -> None:
        if isinstance(group, str):
            node.throttle_group = group

    return change


def check_inline_unchanged(node: Node, options: QDict, inherited: Flags) -> None:
    """A child reopened with inline options: QEMU's error where they change a kept option;
    abstains on any other change (only reopening a child as it is is modelled)."""
    if options.get("driver") != node.driver or options.get("node-name") != node.name or node.auto_named:
        raise NotModelled("blockdev-reopen: inline options renaming or changing a child are not modelled")
    driver_of(options)
    if resolve_flags(options, inherited) != Flags(node.read_only, node.auto_read_only):
        raise NotModelled("blockdev-reopen: inline options changing a child's read-only are not modelled")
    if node.driver in OTHER_DRIVERS or node.parents != [node.parents[0]]:
        raise NotModelled("blockdev-reopen: inline options for a shared or filter child are not modelled")
    check_reset(node, options)
    changed = sticky_changes(node, options)
    if node.driver == "file" and options.get("filename") != node.filename:
        changed.append("filename")
    if changed:
        raise BlockError(f"Cannot change the option '{min(changed, key=bucket_of)}'")
    if node.driver == "qcow2":
        backing = options.get("backing")
        if node.backing is not None or (node.image is not None and node.image.backing_file):
            raise NotModelled("blockdev-reopen: inline options for a child with a backing chain")
        if "backing" in options and not isinstance(backing, QNull):
            raise NotModelled("blockdev-reopen: inline options giving a child a backing node")
    if node.file_child is not None:
        file = options.get("file")
        if isinstance(file, QDict):
            check_inline_unchanged(node.file_child, file, resolve_flags(options, inherited))
        elif file != node.file_child.name:
            raise NotModelled("blockdev-reopen: inline options changing a child's 'file' are not modelled")
