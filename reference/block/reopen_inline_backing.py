"""blockdev-reopen with inline options for the node's current backing child (QEMU 7.2, iotest 245).

Verified on qsd and qemu-system 7.2 (fixtures/block/cases/reopen-245-jobs.json,
stream-245.json): the options naming the child reopen it in the same queue, so
its own 'backing' is checked as a reopened node's is: left out while it has a
backing node, "backing is missing for '%s'"; its current name or null is
accepted (null detaches the node below, which goes unless the monitor holds
it), unless a job froze that link. The child stays read-only (a backing
child's default). Only options that repeat the child's driver, name and file
are modelled; anything else abstains.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.block.errors import BlockError, NotModelled
from reference.block.node import Node
from reference.qobject.values import QDict, QNull, bucket_of

CHILD_KEYS = frozenset({"driver", "node-name", "file", "backing"})
FILE_KEYS = frozenset({"driver", "node-name", "filename"})


@dataclass(frozen=True)
class InlineRelink:
    """The child's backing link after the reopen: the node below (None: detached)."""

    child: Node
    backing: Node | None


def own_child(node: Node, entry: QDict, options: QDict) -> InlineRelink | None:
    """The child's new link (None: it keeps it), after checking that only the link changes."""
    child = node.backing
    assert child is not None and (options.get("node-name") == child.name or self_named(child, options))
    if self_named(child, options):
        _check_self_named(child, options)
    else:
        if (
            set(options.keys()) - CHILD_KEYS
            or options.get("driver") != child.driver
            or child.driver != "qcow2"
        ):
            raise NotModelled(
                "blockdev-reopen: inline backing options that change the child are not modelled"
            )
        if child.auto_named or not child.name_in_options or not _same_file(child, options.get("file")):
            raise NotModelled("blockdev-reopen: inline backing options with another file are not modelled")
    if child.read_only_explicit or not child.read_only or child.auto_read_only or "auto-read-only" in entry:
        raise NotModelled("blockdev-reopen: inline backing options of a child with its own flags")
    given = options.get("backing")
    below = child.backing
    if "backing" not in options:
        if below is not None or (child.image is not None and child.image.backing_file):
            raise BlockError(f"backing is missing for '{child.name}'")
        return None
    if isinstance(given, QNull):
        return InlineRelink(child, None) if below is not None else None
    if isinstance(given, str) and below is not None and given == below.name:
        return None
    raise NotModelled("blockdev-reopen: a new or inline backing for the reopened child is not modelled")


def self_named(child: Node, options: QDict) -> bool:
    """Options for the backing child that do not name it: they reopen that child all the same.
    245 leaves the names out (test_reopen) and cannot spell the one QEMU gave a child opened from
    the header (test_incorrect_parameters_backing_file): another name is a changed option."""
    return "node-name" not in options or (child.auto_named and options.get("node-name") != child.name)


def _check_self_named(child: Node, options: QDict) -> None:
    """A node-name or another driver is a changed option (QEMU keeps the one it made up); the
    child's file must be given as it is, inline without a name, or by its name."""
    if set(options.keys()) - CHILD_KEYS or child.driver != "qcow2":
        raise NotModelled("blockdev-reopen: inline backing options that change the child are not modelled")
    # self_named: a given node-name is another one
    differing = (("node-name", "node-name" in options), ("driver", options.get("driver") != child.driver))
    changed = [key for key, differs in differing if differs]
    if changed:
        raise BlockError(f"Cannot change the option '{min(changed, key=bucket_of)}'")
    file, current = options.get("file"), child.file_child
    if current is None or current.inherits_from is not child:
        raise NotModelled("blockdev-reopen: inline backing options with another file are not modelled")
    if isinstance(file, str) and file == current.name:
        return
    if not isinstance(file, QDict) or set(file.keys()) != FILE_KEYS - {"node-name"}:
        raise NotModelled("blockdev-reopen: inline backing options with another file are not modelled")
    if (file.get("driver"), file.get("filename")) != (current.driver, current.filename):
        raise NotModelled("blockdev-reopen: inline backing options with another file are not modelled")


def _same_file(child: Node, file: object) -> bool:
    current = child.file_child
    if current is None:
        return False
    if isinstance(file, str):
        return file == current.name
    if not isinstance(file, QDict) or set(file.keys()) != FILE_KEYS or current.inherits_from is not child:
        return False
    same = (file.get("driver"), file.get("node-name"), file.get("filename"))
    return same == (current.driver, current.name, current.filename) and current.name_in_options
