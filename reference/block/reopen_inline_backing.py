"""blockdev-reopen with inline options for the node's current backing child (QEMU 7.2, iotest 245).

Verified on qsd and qemu-system 7.2 (fixtures/block/cases/reopen-245-jobs.json,
stream-245.json): the options naming the child reopen it in the same queue, so
its own 'backing' is checked as a reopened node's is: left out while it has a
backing node, "backing is missing for '%s'"; its current name or null is
accepted (null detaches the node below, which goes unless the monitor holds
it), unless a job froze that link.

The child's own options (verified on qsd and qemu-system 7.2, reopen-245-inline-backing.json,
the child opened inline with its parent or from its header): QEMU reopens it with the options
given and nothing kept, so read-only is on and auto-read-only off unless given (a backing
child's defaults), and the flags given become its own (a later reopen naming it keeps them).
Its file named as it is keeps its own flags, else takes the child's; a file given inline
takes the child's unless it sets them. read-only false needs the file to open read-write
("Could not open", also with auto-read-only: the qcow2 child writes to it). cache.*,
detect-zeroes and discard: reference/block/reopen_cache.py (the child's options carry only
the cache members given or its parent's entry carries: a file named as it is keeps the
others). Other options, and these with a new backing link below the child or a chain
below it, abstain.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.block.add_options import MEMBERS
from reference.block.errors import BlockError, NotModelled
from reference.block.node import Node
from reference.block.options import Flags, resolve_flags
from reference.qobject.values import QDict, QNull, bucket_of

LINK_KEYS = frozenset({"driver", "node-name", "file", "backing"})
OPTION_KEYS = frozenset({"read-only", "auto-read-only", "cache", "detect-zeroes", "discard"})
CHILD_KEYS = LINK_KEYS | OPTION_KEYS
BACKING_DEFAULTS = Flags(read_only=True, auto_read_only=False)  # what a backing child inherits
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
    _check_options(child, options)
    given = options.get("backing")
    below = child.backing
    if "backing" not in options:
        if below is not None or (child.image is not None and child.image.backing_file):
            raise BlockError(f"backing is missing for '{child.name}'")
        return None
    if isinstance(given, QNull):
        if below is not None and OPTION_KEYS.intersection(options.keys()):
            raise NotModelled(
                "blockdev-reopen: inline backing options with a new link below are not modelled"
            )
        return InlineRelink(child, None) if below is not None else None
    if isinstance(given, str) and below is not None and given == below.name:
        return None
    raise NotModelled("blockdev-reopen: a new or inline backing for the reopened child is not modelled")


def inline_flags(child: Node, options: QDict) -> dict[Node, Flags]:
    """The new flags of the backing child reopened with `options` and of its file."""
    flags = resolve_flags(options, BACKING_DEFAULTS)
    file = child.file_child
    if file is None or file.inherits_from is not child:  # opened elsewhere: not queued with it
        return {child: flags}
    file_options = options.get("file")
    if isinstance(file_options, QDict):
        return {child: flags, file: resolve_flags(file_options, flags)}
    kept = Flags(
        file.read_only if file.read_only_explicit else flags.read_only,
        file.auto_read_only if file.auto_read_only_explicit else flags.auto_read_only,
    )
    return {child: flags, file: kept}


def _file_keys(file: QDict, naming: frozenset[str]) -> bool:
    """Inline file options that name the file as it is, and give it only modelled options."""
    keys = set(file.keys())
    if not naming <= keys <= naming | (OPTION_KEYS - {"auto-read-only"}):  # auto-read-only: not probed
        return False
    _check_values(file)
    return True


def _check_values(options: QDict) -> None:
    cache = options.get("cache")
    if isinstance(cache, QDict) and set(cache.keys()) - set(MEMBERS):
        raise NotModelled("blockdev-reopen: inline backing cache options other than direct/no-flush")
    if "discard" in options and options.get("discard") not in ("ignore", "unmap"):
        raise NotModelled("blockdev-reopen: an inline backing discard other than ignore/unmap")


def _check_options(child: Node, options: QDict) -> None:
    """The child's own options are modelled over a plain file node with no chain below."""
    _check_values(options)
    if not OPTION_KEYS.intersection(options.keys()):
        return  # only the links: the child's flags go back to a backing child's defaults
    file, below = child.file_child, child.backing
    if file is None or file.driver != "file" or file.inherits_from is not child or file.extra_children:
        raise NotModelled("blockdev-reopen: inline backing options over another file are not modelled")
    if below is not None and below.inherits_from is child and OPTION_KEYS.intersection(options.keys()):
        raise NotModelled("blockdev-reopen: inline backing options above a chain are not modelled")


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
    if not isinstance(file, QDict) or not _file_keys(file, FILE_KEYS - {"node-name"}):
        raise NotModelled("blockdev-reopen: inline backing options with another file are not modelled")
    if (file.get("driver"), file.get("filename")) != (current.driver, current.filename):
        raise NotModelled("blockdev-reopen: inline backing options with another file are not modelled")


def _same_file(child: Node, file: object) -> bool:
    current = child.file_child
    if current is None:
        return False
    if isinstance(file, str):
        return file == current.name
    if not isinstance(file, QDict) or not _file_keys(file, FILE_KEYS) or current.inherits_from is not child:
        return False
    same = (file.get("driver"), file.get("node-name"), file.get("filename"))
    return same == (current.driver, current.name, current.filename) and current.name_in_options
