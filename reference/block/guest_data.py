"""What a read at (offset, length) through a node returns, as runs of one byte value.

The bytes come from storage facts (ContentFacts), never from QEMU: a file
node reads its file; a raw node the window of its file (raw_window.py); a
qcow2 node reads what its image holds itself (the guest ranges qemu-img map
shows present at depth 0, which is whole clusters: a partial write copied
the rest of the cluster from the backing of that time) and the rest from
its backing node as the graph links it now, zeros where the backing is
shorter or there is none. A node whose file a job wrote since the facts
were read abstains. Where HMP qemu-io wrote, the facts come through the
graph's write model (reference/block/guest_writes.py), which reads them once
and applies the writes itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from reference.block.errors import NotModelled
from reference.block.node import Node
from reference.block.raw_window import visible_size


@dataclass(frozen=True)
class Run:
    offset: int
    length: int
    byte: int

    @property
    def end(self) -> int:
        return self.offset + self.length


Gap = Callable[[int, int], list["Run"]]  # what a layer reads where it holds nothing


@runtime_checkable
class ContentFacts(Protocol):
    """Storage that can say what bytes a file or an image's own layer holds."""

    def content(self, path: str, fmt: str) -> list[tuple[int, int, int]]:
        """(offset, length, byte) runs, ascending: fmt "file": the file's bytes; "qcow2": the guest
        ranges the image holds itself (present at depth 0), gaps being its backing's."""
        ...


class Contents(Protocol):
    """Where a read takes a file's or a layer's runs from (the write model, or the storage itself)."""

    def content(self, storage: ContentFacts, path: str, fmt: str) -> list[tuple[int, int, int]]: ...


class _Direct:
    def content(self, storage: ContentFacts, path: str, fmt: str) -> list[tuple[int, int, int]]:
        return storage.content(path, fmt)


def node_size(node: Node) -> int:
    if node.driver == "qcow2":
        if node.image is None:
            raise NotModelled("read: the image's header is not known")
        return node.image.virtual_size
    if node.driver == "compress" and node.file_child is not None:  # its image's size
        return node_size(node.file_child)
    if node.facts is None:
        raise NotModelled(f"read: the size of a {node.driver} node is not known")
    return visible_size(node)


def read_runs(
    storage: object, node: Node, offset: int, length: int, contents: Contents | None = None
) -> list[Run]:
    """The bytes [offset, offset + length) of the node, merged into runs (the caller checked the size)."""
    if not isinstance(storage, ContentFacts):
        raise NotModelled("read: the storage cannot say what the files hold")
    return _merge(_Reader(storage, contents or _Direct()).read(node, offset, length))


@dataclass(frozen=True)
class _Reader:
    storage: ContentFacts
    contents: Contents

    def held(self, path: str, fmt: str) -> list[tuple[int, int, int]]:
        return self.contents.content(self.storage, path, fmt)

    def read(self, node: Node, offset: int, length: int) -> list[Run]:
        return _read(self, node, offset, length)


def _read(reader: _Reader, node: Node, offset: int, length: int) -> list[Run]:
    if length <= 0:
        return []
    if node.stale:
        raise NotModelled(f"read: {node.name}'s file was written since its facts were read")
    if node.driver == "file":
        return _layer(reader.held(node.filename, "file"), offset, length, lambda o, n: [Run(o, n, 0)])
    if node.driver == "raw" and node.file_child is not None:
        base = node.raw_offset
        below = _read(reader, node.file_child, base + offset, length)
        return [Run(run.offset - base, run.length, run.byte) for run in below]
    if node.driver == "compress" and node.file_child is not None:  # reads pass through
        return _read(reader, node.file_child, offset, length)
    if node.driver == "qcow2" and node.file_child is not None:
        if node.file_child.stale:
            raise NotModelled(f"read: {node.name}'s image was written since its facts were read")
        return _layer(reader.held(node.filename, "qcow2"), offset, length, _backing_reader(reader, node))
    raise NotModelled(f"read: a {node.driver} node's data is not modelled")


def _backing_reader(reader: _Reader, node: Node) -> Gap:
    def read(offset: int, length: int) -> list[Run]:
        backing = node.backing
        if backing is None:
            return [Run(offset, length, 0)]
        inside = max(0, min(offset + length, node_size(backing)) - offset)
        tail = [Run(offset + inside, length - inside, 0)] if inside < length else []
        return _read(reader, backing, offset, inside) + tail

    return read


def _layer(held: list[tuple[int, int, int]], offset: int, length: int, gap: Gap) -> list[Run]:
    """The runs the layer holds inside the request, gap(offset, length) for the ranges it does not."""
    out: list[Run] = []
    at, end = offset, offset + length
    for start, size, byte in sorted(held):
        lo, hi = max(start, at), min(start + size, end)
        if hi <= lo:
            continue
        if lo > at:
            out += gap(at, lo - at)
        out.append(Run(lo, hi - lo, byte))
        at = hi
    if at < end:
        out += gap(at, end - at)
    return out


def _merge(runs: list[Run]) -> list[Run]:
    merged: list[Run] = []
    for run in runs:
        if run.length == 0:
            continue
        last = merged[-1] if merged else None
        if last is not None and last.end == run.offset and last.byte == run.byte:
            merged[-1] = Run(last.offset, last.length + run.length, run.byte)
        else:
            merged.append(run)
    return merged
