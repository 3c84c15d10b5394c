"""Read-only flags when a blockdev-reopen names a backing child that is also queued under its parent.

Verified on qsd and qemu-system 7.2 (fixtures/block/cases/reopen-245-backing-entry.json). A
backing child QEMU opened with its parent (inline or from the header) is queued again under
the parent's entry when that entry names it as it is; QEMU builds the queue entry by entry,
depth first, and a node's last pass decides its options. A pass starts from what it is
given (a node's own entry: its members; under a parent: nothing), joins the node's own
options of its earlier pass in this queue (else, under a parent, those it was opened or last
reopened with), and those are the node's own afterwards; then, under a parent, a backing
child takes read-only on / auto-read-only off unless set, a file child the parent's values
where the parent's options carry them; under a parent, what is still unset keeps its old
value. What is unset at the end is off. Each pass queues the node's children again (those
it opened, named as they are, or left out under a parent).

So [b, t] leaves b read-only unless b's entry says otherwise (t's pass comes last), while
[t, b] gives b its entry's flags, and b's file keeps its old read-only unless b's entry
carries one: a read-write b over it is "Block node is read-only".

Only entries naming every link as it is, without inline options, in a chain whose nodes are
qcow2 over a file node, are modelled (NotModelled otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.block.errors import NotModelled
from reference.block.node import Node
from reference.block.options import Flags
from reference.qobject.values import QDict, QNull

KEYS = ("read-only", "auto-read-only")
Members = dict[str, bool]


@dataclass(frozen=True)
class Queued:
    """Every queued node's flags (queue order) and whether each flag is its own afterwards."""

    flags: dict[Node, Flags]
    own: dict[Node, tuple[bool, bool]]


def backing_entry(merged: dict[Node, QDict]) -> Queued | None:
    """The queue's flags when an entry's node is a backing child queued under another entry's
    node; None: no such node (reopen.py decides as before)."""
    if not any(_queued_as_backing(node, merged) for node in merged):
        return None
    for node, entry in merged.items():
        _check_modelled(node, entry)
    passes: dict[Node, tuple[Members, Members]] = {}  # node: (own options, all options)
    for node, entry in merged.items():
        given = {key: _bool(entry.get(key)) for key in KEYS if key in entry}
        _pass(passes, node, given, entry, None, keep_old=False)
    flags = {
        node: Flags(options.get("read-only", False), options.get("auto-read-only", False))
        for node, (_own, options) in passes.items()
    }
    own = {node: ("read-only" in mine, "auto-read-only" in mine) for node, (mine, _all) in passes.items()}
    return Queued(flags, own)


def _queued_as_backing(node: Node, merged: dict[Node, QDict]) -> bool:
    parent = node.inherits_from
    if parent is None or parent not in merged or parent.backing is not node:
        return False
    return merged[parent].get("backing") == node.name


def _check_modelled(node: Node, entry: QDict) -> None:
    if node.driver not in ("qcow2", "file") or node.extra_children:
        raise NotModelled("blockdev-reopen: a backing child's own entry: only qcow2 over file is modelled")
    if any(isinstance(entry.get(key), QDict) for key in entry.keys()):  # noqa: SIM118 (a QDict)
        raise NotModelled("blockdev-reopen: a backing child's own entry with inline options is not modelled")
    if node.driver == "file":
        return
    file, backing = node.file_child, node.backing
    if file is None or entry.get("file") != file.name:
        raise NotModelled("blockdev-reopen: a backing child's own entry with a new 'file' is not modelled")
    named = entry.get("backing")
    if not (named == backing.name if backing is not None else isinstance(named, QNull)):
        raise NotModelled("blockdev-reopen: a backing child's own entry with a new backing is not modelled")
    if backing is not None and backing.inherits_from is node and backing.backing is not None:
        raise NotModelled("blockdev-reopen: a backing child's own entry in a longer chain is not modelled")


def _pass(
    passes: dict[Node, tuple[Members, Members]], node: Node, given: Members, entry: QDict | None,
    parent: tuple[Members, bool] | None, keep_old: bool,
) -> None:  # fmt: skip
    """One pass over `node` (parent: its options and whether `node` is its backing child)."""
    options = dict(given)
    earlier = passes.get(node)
    if earlier is not None:
        _join(options, earlier[0])
    elif keep_old:
        _join(options, _old_own(node))
    own = dict(options)
    if parent is not None:
        parent_options, as_backing = parent
        inherited = {"read-only": True, "auto-read-only": False} if as_backing else parent_options
        _join(options, {key: value for key, value in inherited.items() if key in KEYS})
    if keep_old:
        _join(options, {"read-only": node.read_only, "auto-read-only": node.auto_read_only})
    passes[node] = (own, options)
    for child in (node.file_child, node.backing):
        if child is None or child.inherits_from is not node:
            continue
        role = "file" if child is node.file_child else "backing"
        # an entry names its links as they are (checked): the child keeps its old options
        child_keep_old = keep_old or (entry is not None and role in entry)
        _pass(passes, child, {}, None, (options, role == "backing"), child_keep_old)


def _old_own(node: Node) -> Members:
    own: Members = {}
    if node.read_only_explicit:
        own["read-only"] = node.read_only
    if node.auto_read_only_explicit:
        own["auto-read-only"] = node.auto_read_only
    return own


def _join(options: Members, more: Members) -> None:
    for key, value in more.items():
        options.setdefault(key, value)


def _bool(value: object) -> bool:
    assert isinstance(value, bool), "the input visitor checked it"
    return value
