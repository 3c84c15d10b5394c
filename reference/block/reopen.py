"""blockdev-reopen (QEMU 7.2): new read-only / auto-read-only for existing nodes, all or none.

Verified on qsd 7.2: options left out go back to their defaults (read-only
off, auto-read-only off); children must be named as they are (inline
children, new children and changed backing links are not modelled). The
entries are looked up first ("node-name not specified", "Failed to find node
with node-name='%s'"), then prepared in order ("Cannot change the option
'%s'", also 'node-name' for a node QEMU named itself), then permissions are
checked on the new graph: first a file node whose fd must go read-write and
cannot ("Could not open"; read-only off, auto-read-only off or a writer in the
new graph, also one queued after it: reopen-queue-flags.json), then a
writable qcow2 over a node it leaves read-only gets "Block node is
read-only", a node made read-only under a writer "Read-only block node '%s'
cannot support read-write users". An empty list crashes qsd 7.2 (the reply
never comes): not modelled.

A qcow2 node's backing link (verified on qsd and qemu-system 7.2, iotest
245): leaving 'backing' out while the node has a backing node or its header
names one is "backing is missing for '%s'"; a name is looked up ("Cannot
find device='' nor node-name='%s'"), and a node that reaches the reopened
one is refused ("Making '%s' a backing child of '%s' would create a
cycle"); null detaches the backing node, and a node QEMU opened from the
header, now without parents, goes. Only a change to a monitor-owned root,
with the node's read-only unchanged and nothing else failing, is modelled.

A format node's 'file' link (verified on qsd and qemu-system 7.2): a name is
looked up ("Cannot find device='' nor node-name='%s'") and checked for a
cycle ("Making '%s' a file child of '%s' would create a cycle"), after the
backing link and before any "Cannot change the option" error. Another file
node becomes the child: a qcow2 node keeps the header it read (a raw file
works), its filename and sizes follow the new file, a read-only new file
under a writable qcow2 is "Block node is read-only"; the old child goes
unless the monitor or another parent holds it. A file other format nodes use:
reference/block/reopen_shared_file.py (a permission conflict at the end);
a new file refused in prepare ("Cannot change the option 'force-share'") is
predicted as a correct QEMU does it: nothing changes. QEMU 7.2, 10.0 and 11.1
answer that error and show the old file, but qcow2's data file is not rolled
back: the next read of an allocated cluster marks the image corrupt on disk
(reopen-refused-file-swap in fixtures/divergences.json).
Inline 'file' options reopen
the child the node opened inline: its node-name and filename cannot change,
and leaving its node-name out drops it from the child's options (naming it
afterwards is a change). A node named twice: the entries merge, the later
one's options winning, in the place of the first. A backing child with its own entry next to
its parent's: reference/block/reopen_backing_entry.py (QEMU's queue passes); inline options for
the backing child: reference/block/reopen_inline_backing.py. A backing child queued under its
parent takes read-only on / auto-read-only off unless it set them itself, whatever the
parent's entry says (reopen-245-inline-backing-parent-flags).

Option changes of iotest 245's test_reopen (verified on qsd 7.2, reopen-245-options.json):
'detect-zeroes' "unmap" without 'discard' "unmap" is refused in the node's generic prepare
(before its driver's checks and before 'force-share', which is "Cannot change the option
'force-share'" whatever its value); qcow2's cache options are checked next: all three sizes at
once, 'l2-cache-size' or 'refcount-cache-size' above 'cache-size', then 'l2-cache-entry-size'
(a power of two from 512 to the cluster size). Valid values of these and of
'pass-discard-request' / 'discard' show nowhere. Accepted cache modes and detect-zeroes show in
query-named-block-nodes: reference/block/reopen_cache.py; an entry leaving 'discard' out keeps the
node's (reference/block/add_options.py). raw's 'offset' / 'size': reference/block/raw_window.py.
Which error wins when an option error meets another error: reference/block/reopen_error_order.py.
"""

from __future__ import annotations

from reference.block import reopen_jobs, stream_read_only
from reference.block.add_options import apply, empty_cache_in, resolve, zeroes_error
from reference.block.devices import attach_backing, check_reopen
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph, backing_blocker
from reference.block.job import inheriting
from reference.block.names import lookup_error
from reference.block.node import Node
from reference.block.options import FORMATS, Flags, driver_of, resolve_flags
from reference.block.other_drivers import check_reset, reopen_other, sticky_changes, under_other_driver
from reference.block.other_roles import OTHER_DRIVERS
from reference.block.permissions import first_conflict, users_of
from reference.block.raw_window import reopen_window, reopen_window_error
from reference.block.reopen_backing_entry import backing_entry
from reference.block.reopen_cache import inline_options, shown_options
from reference.block.reopen_error_order import OptionErrors, Stage, first_error
from reference.block.reopen_file_swap import traded_files
from reference.block.reopen_filter_insert import filter_move
from reference.block.reopen_inline_backing import BACKING_DEFAULTS, InlineRelink, inline_flags
from reference.block.reopen_plain import commit, plain_entry
from reference.block.reopen_shared_file import check_shared_file, shareable
from reference.block.throttle_users import first_read_only, write_path
from reference.qobject.values import QDict, QNull, bucket_of

KEEP = object()  # the entry names the node's current backing (or null where it has none)


def x_blockdev_reopen(graph: BlockGraph, args: QDict) -> None:
    """x-blockdev-reopen (4.0 to 6.0): one node's BlockdevOptions as the arguments, the same machinery.

    Verified on qsd and qemu-system 5.2 (fixtures/block/cases/x-blockdev-reopen.json): the
    input visitor wants 'driver' first; the node is looked up before anything else, in 5.2's
    words. A new 'file' link is 6.0's: 5.2 (the one profile with this command) takes 'file' for
    an option that cannot change, "Cannot change the option 'file'" unless an option first in
    QDict order changed too (reopen-refused-file-swap: "force-share"); nothing changes.
    """
    profile = graph.profile
    name = args.get("node-name")
    if not isinstance(name, str):
        raise BlockError(profile.reopen_no_name_message)
    node = graph.find(name)
    if node is None:
        raise BlockError(profile.reopen_not_found_message.format(name=name))
    blockdev_reopen(graph, [args], file_is_option=_names_new_file(node, args))


def blockdev_reopen(graph: BlockGraph, entries: list[QDict], file_is_option: bool = False) -> None:
    """file_is_option: 'file' is an option that cannot change (x-blockdev-reopen on 5.2)."""
    if not entries:
        raise NotModelled("an empty list aborts QEMU 7.2")
    plain = None if file_is_option else plain_entry(graph, entries)
    if plain is not None:  # one node's flags, nothing else (reference/block/reopen_plain.py)
        node, entry, flags = plain
        stream_read_only.check_reopen(graph, [node])
        new = {node: flags}
        for child in inheriting(node)[1:]:  # the inline 'file' child, as the full path queues it
            new[child] = Flags(_kept(child, "read-only", entry), _kept(child, "auto-read-only", entry))
            _check_open(graph, child, new[child], writer=_has_writer(child, new, graph))
        _check_permissions(graph, new)
        commit(node, entry, new)
        return
    if graph.jobs:  # only waiting jobs are modelled (reference/block/reopen_jobs.py)
        reopen_jobs.jobs_waiting(graph)
        if len(entries) > 1:
            raise NotModelled("blockdev-reopen: several entries while a job waits are not modelled")
    if any(empty_cache_in(entry) for entry in entries):
        raise NotModelled("blockdev-reopen with an empty 'cache' is not modelled")
    check_reopen(graph, entries)
    given = _merge(graph, entries)
    stream_read_only.check_reopen(graph, list(given))
    reopen_jobs.drain(graph)
    option_errors = [error for node, entry in given.items() if (error := _option_error(node, entry))]
    merged = {node: _without_options(entry) for node, entry in given.items()}
    reached: list[Stage] = []
    try:
        _reopen(graph, merged, given, file_is_option, named_twice=len(given) < len(entries), reached=reached)
    except BlockError as error:
        if option_errors:  # reference/block/reopen_error_order.py
            exact = not graph.jobs and len(given) == len(entries)
            exact = exact and not any(_queued_under(node, merged) for node in merged)
            found = {node: _option_errors(node, entry) for node, entry in given.items()}
            raise BlockError(first_error(found, reached if exact else [], error.desc)) from None
        raise
    if option_errors:
        if any(_names_new_file(node, entry) for node, entry in merged.items()):
            raise NotModelled(
                "blockdev-reopen: an option error with a 'file' link (7.2 may corrupt the image)"
            )
        raise BlockError(option_errors[0])


def _reopen(
    graph: BlockGraph, merged: dict[Node, QDict], given: dict[Node, QDict], file_is_option: bool = False,
    named_twice: bool = False, reached: list[Stage] | None = None,
) -> None:  # fmt: skip
    """The checks, then (all passed) the changes; raises before changing anything.

    REACHED gets each stage as it starts (reference/block/reopen_error_order.py)."""
    caches = shown_options(given, named_twice)  # before any change: it may abstain
    queued = backing_entry(merged)  # a backing child with its own entry (None: not one)
    # a backing child's own entry is queued under its parent: no stages, the order abstains
    stages = reached if reached is not None and queued is None else []
    new: dict[Node, Flags] = dict(queued.flags) if queued else {}
    backings: dict[Node, Node | None] = {}
    files: dict[Node, Node] = {}
    inline: dict[Node, QDict] = {}  # a child reopened with inline options: those options
    moves: list[tuple[list[Node], str | None]] = []  # nodes going to another AioContext
    filter_changes = []  # reference/block/other_drivers.py's nodes: applied once all checks pass
    order = list(merged)
    traded = traded_files(
        graph, merged
    )  # nodes handing their files round (reference/block/reopen_file_swap.py)
    for node, entry in merged.items():
        stages.append(Stage(node, inline=False))
        if node.driver in OTHER_DRIVERS:
            filter_changes.append(
                reopen_other(node, given[node], _flags_of(node, entry), graph.throttle_groups)
            )
            if node.driver == "throttle":  # its read-only may change (reference/block/throttle_users.py)
                new[node] = _flags_of(node, entry)
            continue
        flags = new[node] = queued.flags[node] if queued else _queued_flags(node, entry, merged, order)
        if under_other_driver(node) and flags != Flags(node.read_only, node.auto_read_only):
            raise NotModelled("blockdev-reopen: a read-only change under a filter node is not modelled")
        unchanged = flags == Flags(node.read_only, node.auto_read_only) and (
            len(merged) == 1 or node in traded
        )
        if isinstance(entry.get("backing"), QDict) and len(merged) > 1:
            raise NotModelled("blockdev-reopen: inline 'backing' in a queue is not modelled")
        # a job's frozen links are checked as the entry is prepared, its permissions afterwards
        kept = reopen_jobs.check_backing(graph, node, entry) if node.driver == "qcow2" else None
        reopen_jobs.check_flags(graph, node, flags.read_only, flags.auto_read_only)
        backing_options = entry.get("backing")
        if isinstance(backing_options, QDict) and kept is not None:  # the child reopened with them
            assert node.backing is not None
            _reopen_inline_backing(graph, node.backing, backing_options, new, inline)
        if isinstance(kept, InlineRelink):
            if not unchanged:
                raise NotModelled("blockdev-reopen: a child's new backing with other changes is not modelled")
            backings[kept.child] = kept.backing
        if node.driver == "qcow2" and kept is None:
            backing = _new_backing(graph, node, entry)
            if backing is not KEEP:
                assert backing is None or isinstance(backing, Node)
                if file_is_option:
                    raise NotModelled("x-blockdev-reopen: a new 'file' and a new backing are not modelled")
                if not unchanged:
                    raise NotModelled("blockdev-reopen: a new backing with other changes is not modelled")
                backings[node] = backing
                if backing is not None:  # linked right away: the AioContext moves come with it
                    moves += attach_backing(graph, node, backing)
        if node.driver in FORMATS and not file_is_option:
            file = traded[node] if node in traded else _new_file(graph, node, entry.get("file"))
            if file is not None:
                if not unchanged or node in backings:
                    raise NotModelled("blockdev-reopen: a new 'file' with other changes is not modelled")
                files[node] = file
        # a new file too stays unlinked (QEMU 7.2+ do not: see above)
        _check_unchanged(node, given[node], file_is_option and _names_new_file(node, entry))
        child_options = entry.get("file")
        if isinstance(child_options, QDict):  # QEMU queues the child right after its parent
            stages.append(Stage(node, inline=True))
            child = _inline_child(node, child_options, merged)
            new[child] = resolve_flags(child_options, flags)
            inline[child] = child_options
    stages.append(Stage(None, inline=False))  # every entry prepared: the permission stage
    for node in order:  # children that took the node's options take the new ones (stateful test)
        for child in inheriting(node)[1:]:
            if child in new:
                continue
            new[child] = _inherited(child, node, merged.get(node), new)
    reorder = queued is not None or any(isinstance(e.get("backing"), QDict) for e in merged.values())
    if reorder and _read_only_under_writer(merged, new):
        _check_permissions(graph, new)  # reported before any file's "Could not open"
    for node, flags in new.items():  # file-posix reopens its fd once every entry is prepared
        _check_open(graph, node, flags, writer=_has_writer(node, new, graph))
    _check_permissions(graph, new)
    _check_new_files(graph, {node: file for node, file in files.items() if node not in traded}, new)
    if any(_option_error(node, entry) for node, entry in given.items()):
        return  # the caller reports it: nothing changes
    for node, flags in new.items():
        node.read_only, node.auto_read_only = flags.read_only, flags.auto_read_only
    for node, shown in caches.items():
        apply(node, shown)
    for node, entry in merged.items():
        parent = _queued_under(node, merged)
        kept = parent is not None and order.index(parent) < order.index(node)  # its old explicit ones join
        node.read_only_explicit = "read-only" in entry or (kept and node.read_only_explicit)
        node.auto_read_only_explicit = "auto-read-only" in entry or (kept and node.auto_read_only_explicit)
        reopen_window(node, entry)
    for node, (read_only, auto_read_only) in queued.own.items() if queued else ():
        node.read_only_explicit, node.auto_read_only_explicit = read_only, auto_read_only
    for child, options in inline.items():
        child.read_only_explicit = "read-only" in options
        child.auto_read_only_explicit = "auto-read-only" in options
        child.name_in_options = "node-name" in options
    for node, backing in backings.items():
        _relink(graph, node, backing)
    for nodes, context in moves:
        graph.devices.move(nodes, context)
    for change in filter_changes:
        change()
    olds = [node.file_child for node in files]
    for node, file in files.items():
        _relink_file(graph, node, file)
    for old in olds:  # once every node has its new file: a traded file has its new user
        if old is not None and not old.parents and not old.monitor_owned and not graph.exported(old):
            graph.drop(old)


def _merge(graph: BlockGraph, entries: list[QDict]) -> dict[Node, QDict]:
    """Each node's options: a node named again merges, the later entry winning, in the first's place."""
    merged: dict[Node, QDict] = {}
    for entry in entries:
        node = _target(graph, entry)
        if node in merged:
            both = QDict(dict(merged[node].items()))
            for key, value in entry.items():
                both.put(key, value)
            entry = both
        merged[node] = entry
    return merged


def _target(graph: BlockGraph, entry: QDict) -> Node:
    name = entry.get("node-name")
    if not isinstance(name, str):
        raise BlockError("node-name not specified")
    node = graph.find(name)
    if node is None:
        raise BlockError(f"Failed to find node with node-name='{name}'")
    return node


def _flags_of(node: Node, entry: QDict) -> Flags:
    if node.driver == "nbd" or any(child.driver == "nbd" for child in node.children()):
        raise NotModelled("blockdev-reopen: nodes over nbd are not modelled")
    if entry.get("driver") == node.driver:
        driver_of(entry)  # options the model does not know abstain
    return resolve_flags(entry, Flags())


# Options iotest 245 changes; the ones model-checked below, stripped before the read-only model.
GENERIC_OPTIONS = ("detect-zeroes", "discard", "cache", "force-share")
QCOW2_CACHE_OPTIONS = ("l2-cache-entry-size", "l2-cache-size", "cache-size", "refcount-cache-size",
                       "pass-discard-request")  # fmt: skip
MIN_L2_ENTRY = 512


def _without_options(entry: QDict) -> QDict:
    skipped = GENERIC_OPTIONS + (QCOW2_CACHE_OPTIONS if entry.get("driver") == "qcow2" else ())
    return QDict({key: value for key, value in entry.items() if key not in skipped})


def _option_error(node: Node, entry: QDict) -> str | None:
    """QEMU's error for the entry's option changes (None: none); abstains on changes that show."""
    own = _own_option_error(node, entry)
    if own is not None:
        return own
    found = _inline_zeroes_errors(entry)
    if len(found) > 1:
        raise NotModelled("blockdev-reopen: which inline child's option error comes first is not modelled")
    return found[0][1] if found else None


def _option_errors(node: Node, entry: QDict) -> OptionErrors:
    """The entry's option errors by where QEMU prepares them (the node, its inline children)."""
    inline = _inline_zeroes_errors(entry)
    return OptionErrors(
        _own_option_error(node, entry),
        next((error for key, error in inline if key == "file"), None),
        any(key != "file" for key, _ in inline),
    )


def _own_option_error(node: Node, entry: QDict) -> str | None:
    """The node's own prepare: the window (raw), the generic options, qcow2's cache options."""
    window = reopen_window_error(node, entry)
    if window is not None:
        return window
    zeroes = entry.get("detect-zeroes") if "detect-zeroes" in entry else "off"
    discard = entry.get("discard") if "discard" in entry else node.discard  # left out: kept (qsd 7.2)
    if discard not in ("ignore", "unmap"):
        raise NotModelled(f"blockdev-reopen: discard {discard} is not modelled")
    if zeroes == "unmap" and discard != "unmap":  # the generic prepare: before the driver's
        return "setting detect-zeroes to unmap is not allowed without setting discard operation to unmap"
    if entry.get("driver") == "qcow2" == node.driver and (error := _qcow2_cache_error(node, entry)):
        return error
    return None


def _inline_zeroes_errors(entry: QDict) -> list[tuple[str, str]]:
    """Inline children (and a backing child's inline file) are prepared after the node: each
    error with the entry's key it came from."""
    found: list[tuple[str, str]] = []
    for key in ("file", "backing"):
        child = entry.get(key)
        if not isinstance(child, QDict):
            continue
        file = child.get("file") if key == "backing" else None
        # detect-zeroes and discard are not inherited: the cache members do not matter here
        for options in (
            inline_options(entry, child),
            *([resolve(file, {}, True)] if isinstance(file, QDict) else []),
        ):
            error = zeroes_error(options)
            found += [(key, error)] if error else []
    return found


def _qcow2_cache_error(node: Node, entry: QDict) -> str | None:
    sizes = [entry.get(key) for key in ("l2-cache-size", "refcount-cache-size", "cache-size")]
    l2, refcount, total = (size if isinstance(size, int) else None for size in sizes)
    if l2 is not None and refcount is not None and total is not None:
        return "cache-size, l2-cache-size and refcount-cache-size may not be set at the same time"
    if total is not None and l2 is not None and l2 > total:
        return "l2-cache-size may not exceed cache-size"
    if total is not None and refcount is not None and refcount > total:
        return "refcount-cache-size may not exceed cache-size"
    entry_size = entry.get("l2-cache-entry-size")
    if isinstance(entry_size, int):
        cluster = node.image.cluster_size if node.image is not None else None
        if not cluster:
            raise NotModelled("blockdev-reopen: l2-cache-entry-size without a known cluster size")
        if entry_size & (entry_size - 1) or not MIN_L2_ENTRY <= entry_size <= cluster:
            bounds = f"between {MIN_L2_ENTRY} and the cluster size ({cluster})"
            return f"L2 cache entry size must be a power of two {bounds}"
    return None


def _reopen_inline_backing(
    graph: BlockGraph, child: Node, options: QDict, new: dict[Node, Flags], inline: dict[Node, QDict]
) -> None:
    """The backing child's (and its file's) new flags; its options become its own."""
    flags = inline_flags(child, options)
    for queued, queued_flags in flags.items():
        reopen_jobs.check_flags(graph, queued, queued_flags.read_only, queued_flags.auto_read_only)
    new.update(flags)
    inline[child] = options
    file_options = options.get("file")
    if isinstance(file_options, QDict) and child.file_child is not None:
        inline[child.file_child] = file_options


def _queued_under(node: Node, merged: dict[Node, QDict]) -> Node | None:
    """The parent whose entry names the node as its current 'file' (QEMU queues it there too)."""
    parent = node.inherits_from
    if parent is None or parent not in merged or parent.file_child is not node:
        return None
    return parent if merged[parent].get("file") == node.name else None


def _queued_flags(node: Node, entry: QDict, merged: dict[Node, QDict], order: list[Node]) -> Flags:
    """The node's flags as QEMU's reopen queue ends up with them (verified on qsd and qemu-system 7.2).

    A node that is also its parent's 'file' is queued twice. Its entry first: the parent's pass
    keeps the entry, fills the gaps from the parent's entry, then from the node's old options.
    The parent first: that pass keeps the node's old explicit options, and the node's own entry
    joins them (the entry winning), so an auto-read-only it was opened with stays.
    """
    flags = _flags_of(node, entry)
    parent = _queued_under(node, merged)
    if parent is None:
        return flags
    if order.index(node) < order.index(parent):
        return Flags(
            _given(entry, "read-only", _kept(node, "read-only", merged[parent])),
            _given(entry, "auto-read-only", _kept(node, "auto-read-only", merged[parent])),
        )
    return Flags(
        _given(entry, "read-only", node.read_only_explicit and node.read_only),
        _given(entry, "auto-read-only", node.auto_read_only_explicit and node.auto_read_only),
    )


def _inherited(child: Node, node: Node, entry: QDict | None, new: dict[Node, Flags]) -> Flags:
    """A child queued under the entry's node: its old explicit options, then its parent's, then its
    old ones. A backing child's parent hands down read-only on / auto-read-only off (qsd 7.2:
    reopen-245-inline-backing-parent-flags); a grandchild takes its parent's new flags."""
    parent = child.inherits_from
    if parent is not None and parent.backing is child:
        handed = BACKING_DEFAULTS
    elif parent is not None and parent is not node and parent in new:
        handed = new[parent]
    else:
        return Flags(_kept(child, "read-only", entry), _kept(child, "auto-read-only", entry))
    return Flags(
        child.read_only if child.read_only_explicit else handed.read_only,
        child.auto_read_only if child.auto_read_only_explicit else handed.auto_read_only,
    )


def _given(entry: QDict, key: str, otherwise: bool) -> bool:
    value = entry.get(key) if key in entry else otherwise
    assert isinstance(value, bool)
    return value


def _kept(child: Node, key: str, parent_entry: QDict | None) -> bool:
    """A child queued under its parent: its old explicit value, else the parent entry's, else its old one."""
    current = child.read_only if key == "read-only" else child.auto_read_only
    explicit = child.read_only_explicit if key == "read-only" else child.auto_read_only_explicit
    if explicit or parent_entry is None:
        return current
    return _given(parent_entry, key, current)


def _check_unchanged(node: Node, entry: QDict, file_changed: bool = False) -> None:
    """QEMU's last check: options other than the links must equal the node's (hash order)."""
    check_reset(node, entry)  # the driver's first check
    changed = sticky_changes(node, entry) + (["file"] if file_changed else [])
    # a name QEMU made up, or one a reopen dropped, is no option: naming the node "changes" it
    if node.auto_named or not node.name_in_options:
        changed.append("node-name")
    if entry.get("driver") != node.driver:
        changed.append("driver")
    if node.driver == "file" and entry.get("filename") != node.filename:
        changed.append("filename")
    if "force-share" in entry:  # blockdev-add with it is not modelled: no node has it
        changed.append("force-share")
    _first_change(changed)


def _first_change(changed: list[str]) -> None:
    """QEMU names the first changed option in its QDict's order: bucket order, fixed by the key."""
    if changed:
        raise BlockError(f"Cannot change the option '{min(changed, key=bucket_of)}'")


def _new_child(graph: BlockGraph, node: Node, name: str, role: str) -> Node:
    """The node NAME that is to become NODE's ROLE child: it must exist and not reach NODE."""
    found = graph.find(name)
    if found is None:
        raise lookup_error(graph.profile, "", name)
    if found is node or node in _reached(found):
        raise BlockError(f"Making '{name}' a {role} child of '{node.name}' would create a cycle")
    return found


def _names_new_file(node: Node, entry: QDict) -> bool:
    ref = entry.get("file")
    return isinstance(ref, str) and (node.file_child is None or ref != node.file_child.name)


def _new_file(graph: BlockGraph, node: Node, ref: object) -> Node | None:
    """The node's new 'file' child (None: it keeps its own); QEMU's error where it refuses."""
    if not isinstance(ref, str) or (node.file_child is not None and ref == node.file_child.name):
        return None
    found = _new_child(graph, node, ref, "file")
    if filter_move(node, found):  # reference/block/reopen_filter_insert.py
        return found
    judged = bool(found.parents) and shareable(node, found)  # at the permission stage, whoever reads node
    if (
        found.driver != "file"
        or graph.exported(found)
        or found.backend is not None
        or (node.parents and not judged)
    ):
        raise NotModelled("blockdev-reopen: a new 'file' that is not a free file node is not modelled")
    if node.backing is not None or (node.image is not None and node.image.backing_file):
        raise NotModelled("blockdev-reopen: a new 'file' under a node with a backing chain is not modelled")
    if found.parents and shareable(node, found):
        return found  # judged at the permission stage (reference/block/reopen_shared_file.py)
    if found.parents and (node.driver != "raw" or graph.has_writer(node)
                          or any(parent.driver != "raw" for parent in found.parents)):  # fmt: skip
        raise NotModelled("blockdev-reopen: a new 'file' shared with a writer is not modelled")
    return found


def _inline_child(node: Node, options: QDict, merged: dict[Node, QDict]) -> Node:
    """The child reopened with inline options; QEMU's error where they change it."""
    child = node.file_child
    if child is None or child.inherits_from is not node or child in merged:
        raise NotModelled("blockdev-reopen: inline options for a child opened elsewhere are not modelled")
    if child.auto_named and "node-name" in options:
        raise NotModelled("blockdev-reopen: inline options naming a self-named child are not modelled")
    # The child's own driver reads the options; a new 'driver' is one more changed option, and so
    # is a file's 'aio' (never given at blockdev-add: not modelled there; file-posix keeps it).
    aio = child.driver == "file" and "aio" in options
    driver_of(QDict({**{k: v for k, v in options.items() if k != "aio" or not aio}, "driver": child.driver}))
    check_reset(child, options)
    renamed = "node-name" in options and (options.get("node-name") != child.name or not child.name_in_options)
    moved = options.get("filename") != child.filename
    changes = (("driver", options.get("driver") != child.driver), ("node-name", renamed), ("filename", moved),
               ("aio", aio))  # fmt: skip
    differing = [key for key, differs in changes if differs]
    _first_change(differing + sticky_changes(child, options))
    return child


def _new_backing(graph: BlockGraph, node: Node, entry: QDict) -> object:
    """KEEP, None (detach) or the new backing node; QEMU's error where it refuses."""
    given = entry.get("backing")
    if "backing" not in entry:
        header = node.image is not None and bool(node.image.backing_file)
        if node.backing is None and not header:
            return KEEP
        raise BlockError(f"backing is missing for '{node.name}'")
    if isinstance(given, QNull):
        return KEEP if node.backing is None else None
    if not isinstance(given, str):
        raise NotModelled("blockdev-reopen: an inline 'backing' is not modelled")
    if node.backing is not None and given == node.backing.name:
        return KEEP
    found = _new_child(graph, node, given, "backing")
    # other overlays reading it as their backing take nothing a new one conflicts with (iotest 245)
    shared = all(parent.backing is found for parent in found.parents) and found.backend is None
    if not shared or not found.monitor_owned or graph.exported(found) or found.driver != "qcow2":
        raise NotModelled("blockdev-reopen: a backing node that is not a qcow2 root is not modelled")
    return found


def _reached(node: Node) -> list[Node]:
    found: list[Node] = []
    for child in node.children():
        found += [child, *_reached(child)]
    return found


def _relink(graph: BlockGraph, node: Node, backing: Node | None) -> None:
    old = node.backing
    if old is not None:
        graph.unblock_backing(old, node)
        old.parents.remove(node)
        # a node QEMU opened from the header has no other reference: it goes with the link
        # (a waiting job's device stays until the job ends)
        held = any(job.base is old for job in graph.jobs.values())
        if not old.parents and not old.monitor_owned and not graph.exported(old) and not held:
            graph.drop(old)
    node.backing = backing
    if backing is not None:
        backing.parents.append(node)
        backing.blockers.insert(0, backing_blocker(node))


def _check_new_files(graph: BlockGraph, files: dict[Node, Node], new: dict[Node, Flags]) -> None:
    for node, file in files.items():
        if file.parents and shareable(node, file):
            check_shared_file(graph, node, file, _flags(node, new).read_only)
        writes = not _flags(node, new).read_only if node.driver == "qcow2" else graph.has_writer(node)
        if not writes:
            continue
        if file.read_only:
            raise BlockError("Block node is read-only")
        if file.auto_read_only and not graph.has_writer(file):  # file-posix goes read-write for it
            _check_open(graph, file, Flags(False, True), writer=True)


def _relink_file(graph: BlockGraph, node: Node, file: Node) -> None:
    old = node.file_child
    assert old is not None
    old.parents.remove(node)  # the caller drops it if nobody uses it now
    node.file_child = file
    file.parents.append(node)
    node.file_seq = graph.next_seq()
    # qcow2 keeps the header it read; the name and the sizes on disk are the new file's
    node.filename, node.facts = file.filename, file.facts


def _flags(node: Node, new: dict[Node, Flags]) -> Flags:
    return new.get(node, Flags(node.read_only, node.auto_read_only))


def _has_writer(node: Node, new: dict[Node, Flags], graph: BlockGraph | None = None) -> bool:
    writers = (p for p in node.parents if p.driver == "qcow2" and p.file_child is node)
    return any(not _flags(p, new).read_only for p in writers) or (
        graph is not None and graph.has_writer(node)
    )


def _read_only_under_writer(merged: dict[Node, QDict], new: dict[Node, Flags]) -> bool:
    """Whether a node at or below the queued ones stays or goes read-only under a qcow2 parent
    that writes to it. QEMU then reports "Block node is read-only" even where a file also cannot
    open read-write, wherever that file is queued (qsd and qemu-system 7.2: queues [bf, t, b],
    [b, t] and inline backing options; fixtures/block/regressions.json
    regression-backing-entry-refresh-order, regression-inline-backing-refresh-order)."""
    seen: set[Node] = set()
    below = list(merged)
    while below:
        node = below.pop()
        if node in seen:
            continue
        seen.add(node)
        writers = (p for p in node.parents if p.driver == "qcow2" and p.file_child is node)
        if _flags(node, new).read_only and any(not _flags(p, new).read_only for p in writers):
            return True
        below.extend(node.children())
    return False


def _check_open(graph: BlockGraph, node: Node, flags: Flags, writer: bool) -> None:
    # file-posix reopens its fd read-write unless read-only, or auto-read-only without a writer.
    if node.driver != "file" or flags.read_only or (flags.auto_read_only and not writer):
        return
    error = graph.storage.open_error(node.filename, True)
    if error is not None:
        raise BlockError(f"Could not open '{node.filename}': {error}")


def _read_only_error(node: Node, new: dict[Node, Flags]) -> str:
    """A writer reaching a read-only node: one going read-only now, or one already read-only."""
    if node in new and not node.read_only:
        return f"Read-only block node '{node.name}' cannot support read-write users"
    return "Block node is read-only"


def _check_permissions(graph: BlockGraph, new: dict[Node, Flags]) -> None:
    errors: list[str] = []
    for export in graph.exports:  # a writable export is a read-write user of its node
        node = export.node
        if not export.writable:
            continue
        # raw and throttle pass the export's write down to their file (qsd 7.2)
        chain = first_read_only(node, lambda reached: _flags(reached, new).read_only)
        if chain is not None:
            errors.append(_read_only_error(chain, new))
    for parent in graph.nodes:
        child = parent.file_child
        if parent.driver != "qcow2" or child is None or _flags(parent, new).read_only:
            continue
        stop = first_read_only(child, lambda reached: _flags(reached, new).read_only)
        bottom = write_path(child)[-1]
        if stop is not None:
            errors.append(_read_only_error(stop, new))
        elif bottom not in new and parent in new and parent.read_only:
            try:  # the file gains its first writer: file-posix reopens it read-write
                _check_open(graph, bottom, _flags(bottom, new), writer=True)
            except BlockError as err:
                errors.append(err.desc)
    after = {node: f.read_only for node, f in new.items()}
    for node in dict.fromkeys(export.node for export in graph.exports):  # an export unshares resize
        conflict = first_conflict(node, users_of(node, graph.export_users(), after))
        if conflict is not None:  # qsd 7.2: a qcow2 reopened read-write over a read-only export
            errors.append(conflict)
    if len(set(errors)) > 1:
        raise NotModelled("blockdev-reopen: which of several permission errors QEMU reports is not modelled")
    if errors:
        raise BlockError(errors[0])
