"""raw's 'offset' and 'size': the window of its file the raw node shows, at blockdev-add and blockdev-reopen.

Pinned on qemu-system-x86_64 7.2: the checks run in this order against the
file's size (offset past the end, offset + size past the end, size not a
multiple of 512; an offset needs no alignment); without 'size' the window runs
to the end of the file. A reopen that leaves either option out resets it
(offset 0, no size). The node's virtual-size is the window's, and its
filename becomes "json:{...}" with the options (reference/block/filenames.py).
"""

from __future__ import annotations

from reference.block.errors import BlockError, NotModelled
from reference.block.node import Node
from reference.qobject.values import QDict

SECTOR = 512
WINDOW_OPTIONS = ("offset", "size")


def window_options(opts: QDict) -> tuple[int, int | None]:
    offset, size = opts.get("offset") if "offset" in opts else 0, opts.get("size")
    assert isinstance(offset, int) and (size is None or isinstance(size, int)), "checked by the visitor"
    return offset, size


def window_error(offset: int, size: int | None, file_size: int) -> str | None:
    if offset > file_size:
        return f"Offset ({offset}) cannot be greater than size of the containing file ({file_size})"
    if size is not None and file_size - offset < size:
        # (sic: two spaces before "actual")
        return (f"The sum of offset ({offset}) and size ({size}) has to be smaller or equal to the "
                f" actual size of the containing file ({file_size})")  # fmt: skip
    if size is not None and size % SECTOR:
        return f"Specified size is not multiple of {SECTOR}"
    return None


def file_size_under(node: Node) -> int:
    """The length of the raw node's 'file' (its "containing file": a qcow2 node's is its virtual size)."""
    child = node.file_child
    if child is None or child.facts is None or child.stale:
        raise NotModelled("raw offset/size: the file's size is not known")
    return visible_size(child)


def open_window(node: Node, opts: QDict) -> None:
    """blockdev-add of a raw node, its file attached: check and set the window."""
    offset, size = window_options(opts)
    if "offset" not in opts and "size" not in opts:
        return
    error = window_error(offset, size, file_size_under(node))
    if error is not None:
        raise BlockError(error)
    node.raw_offset, node.raw_size = offset, size
    node.raw_given = given_window(opts)


def given_window(opts: QDict) -> frozenset[str]:
    """The window options named (an offset of 0 too): they, and only they, show in the filename."""
    return frozenset(key for key in WINDOW_OPTIONS if key in opts)


def reopen_window_error(node: Node, entry: QDict) -> str | None:
    if node.driver != "raw" or entry.get("driver") != "raw" or not any(k in entry for k in WINDOW_OPTIONS):
        return None  # leaving both out resets the window: nothing to check
    file = entry.get("file")  # inline options stay the same node (reopen checks them)
    if isinstance(file, str) and (node.file_child is None or file != node.file_child.name):
        raise NotModelled("blockdev-reopen: raw offset/size with another file is not modelled")
    return window_error(*window_options(entry), file_size_under(node))


def reopen_window(node: Node, entry: QDict) -> None:
    """Commit: the entry's window, omitted options back to their defaults."""
    if node.driver == "raw":
        node.raw_offset, node.raw_size = window_options(entry)
        node.raw_given = given_window(entry)


def visible_size(node: Node) -> int:
    """The node's length as its parents see it (before rounding to sectors): a qcow2 node's virtual
    size, a raw node's window on its file's length (qsd 7.2: over a qcow2 node, the window is on
    its virtual size), a compress filter's child's, else its file's size."""
    if node.driver == "qcow2" and node.image is not None:
        return node.image.virtual_size
    child = node.file_child
    if node.driver in ("raw", "compress") and child is not None:
        below = visible_size(child)
        if node.driver == "compress":
            return below
        return node.raw_size if node.raw_size is not None else below - node.raw_offset
    assert node.facts is not None
    return node.facts.size


def has_window(node: Node) -> bool:
    """Its options name an offset or a size (QEMU 7.2 then names it json:{...}, even for offset 0)."""
    return node.driver == "raw" and bool(node.raw_given)
