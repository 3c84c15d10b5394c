"""What HMP qemu-io writes did to the files and images, kept by the oracle so later reads are predicted.

The storage facts of a file or an image layer are read once, the first time
a read or a write needs them, and from then on only this model changes them:
after a write the bytes on disk are QEMU's answer, which the oracle never
reads back (a qcow2 image's metadata may even still sit in QEMU's cache).

Pinned on qemu-system-x86_64 7.2 (io-writes.json): a write through a qcow2
node makes every cluster it touches the node's own, the bytes it does not
write copied from what the node read there at that moment (its backing
chain as linked then, zeros past the backing's end or without one); later
backing changes do not show in those clusters. `write -z` is the same with
zeros (a partial zero write into a cluster of zeros reads as zeros under any
later backing). A write through a raw node lands in its window of the file,
a write to a file node in the file, and both show through every node over
that file. A qcow2 image written this way no longer has known raw bytes, nor
a raw file known image layers: reads there abstain, as they do where a
write's effect could not be modelled (a job running, a stale node).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reference.block.errors import NotModelled
from reference.block.guest_data import ContentFacts, Run, node_size, read_runs
from reference.block.node import Node
from reference.block.qcow2_hosting import ClusterHosting

Layer = list[tuple[int, int, int]]  # (offset, length, byte), ascending


@dataclass
class GuestWrites:
    """Per graph: the content facts read so far, with the modelled writes applied."""

    layers: dict[tuple[str, str], Layer] = field(default_factory=dict)
    unknown: set[tuple[str, str]] = field(default_factory=set)
    hosting: ClusterHosting = field(default_factory=ClusterHosting)  # for compressed writes

    def content(self, storage: ContentFacts, path: str, fmt: str) -> Layer:
        key = (path, fmt)
        if key in self.unknown:
            raise NotModelled(f"read: {path} was written in a way the model cannot follow")
        if key not in self.layers:
            self.layers[key] = list(storage.content(path, fmt))
        return self.layers[key]

    def forget(self, path: str) -> None:
        """Something outside the model (a job) wrote the file: read its facts again when needed."""
        for key in [key for key in self.layers if key[0] == path]:
            del self.layers[key]
        self.hosting.forget(path)
        self.unknown = {key for key in self.unknown if key[0] != path}

    def lose(self, path: str) -> None:
        """A write the model cannot follow: reads of the file abstain from now on."""
        for fmt in ("file", "qcow2"):
            self.layers.pop((path, fmt), None)
            self.unknown.add((path, fmt))
        self.hosting.lose(path)

    def write(self, storage: object, node: Node, offset: int, length: int, byte: int) -> None:
        """Apply a write of `byte` at [offset, offset + length) through the node (inside its size)."""
        if not isinstance(storage, ContentFacts):
            raise NotModelled("write: the storage cannot say what the files hold")
        if length <= 0:
            return
        if node.stale:
            raise NotModelled(f"write: {node.name}'s file was written since its facts were read")
        if node.driver == "raw" and node.file_child is not None:
            self.write(storage, node.file_child, node.raw_offset + offset, length, byte)
        elif node.driver == "compress" and node.file_child is not None:  # compressed: the same bytes
            self.write(storage, node.file_child, offset, length, byte)
        elif node.driver == "file":
            self._splice(storage, node.filename, "file", [Run(offset, length, byte)])
            self.lose_other(node.filename, "qcow2")
        elif node.driver == "qcow2" and node.image is not None and node.image.cluster_size:
            cluster = node.image.cluster_size
            start = offset - offset % cluster
            end = min(-(-(offset + length) // cluster) * cluster, node_size(node))
            before = read_runs(storage, node, start, end - start, self)  # what the clusters read now
            runs = _overlay(before, [Run(offset, length, byte)])
            self._splice(storage, node.filename, "qcow2", runs)
            self.lose_other(node.filename, "file")
        else:
            raise NotModelled(f"write: a {node.driver} node's data is not modelled")

    def lose_other(self, path: str, fmt: str) -> None:
        self.layers.pop((path, fmt), None)
        self.unknown.add((path, fmt))

    def _splice(self, storage: ContentFacts, path: str, fmt: str, runs: list[Run]) -> None:
        layer = self.content(storage, path, fmt)
        news = [Run(o, n, b) for o, n, b in layer]
        self.layers[(path, fmt)] = [(r.offset, r.length, r.byte) for r in _overlay(news, runs)]


def _overlay(below: list[Run], above: list[Run]) -> list[Run]:
    """below with the ranges of `above` replaced by above's runs (both ascending, above disjoint)."""
    out: list[Run] = []
    for run in below:
        pieces = [run]
        for top in above:
            cut: list[Run] = []
            for piece in pieces:
                if top.end <= piece.offset or piece.end <= top.offset:
                    cut.append(piece)
                    continue
                if piece.offset < top.offset:
                    cut.append(Run(piece.offset, top.offset - piece.offset, piece.byte))
                if top.end < piece.end:
                    cut.append(Run(top.end, piece.end - top.end, piece.byte))
            pieces = cut
        out += pieces
    return sorted(out + above, key=lambda r: r.offset)
