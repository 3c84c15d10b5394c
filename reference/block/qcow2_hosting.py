"""Which qcow2 clusters have a host cluster behind them: what a compressed write needs to know.

A compressed write into a qcow2 cluster succeeds only where the cluster's
L2 entry has no host offset (reference/block/compress_filter.py). The oracle
never reads L2 tables, so it knows this only where it can tell:

- a cluster the image did not hold at all when its facts were read (not
  present at depth 0 in qemu-img map) has no host offset;
- HMP qemu-io writes through the image change it: a data write gives every
  cluster it touches one (a compressed write too); `write -z -u` over a whole
  cluster of a version 3 image takes it away (pinned on 7.2, iotest 245's
  test_insert_compress_filter: with the node's default discard=ignore too);
  `write -z` leaves a cluster without one as it was (with one: compressed, it
  loses it; else it keeps it: not followed, unknown); a partial zero write is
  not followed either.

Everywhere else (a cluster the image held before the session, a file a job
wrote) the answer is unknown and a question about it abstains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reference.block.errors import NotModelled
from reference.block.guest_data import ContentFacts
from reference.block.node import Node

Known = dict[int, bool | None]  # cluster index -> has a host offset (None: unknown)


@dataclass
class ClusterHosting:
    """Per qcow2 file: the clusters the session's writes made known."""

    clusters: dict[str, Known] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)

    def forget(self, path: str) -> None:
        """The file's facts are read again: only they count."""
        self.clusters.pop(path, None)
        self.lost.discard(path)

    def lose(self, path: str) -> None:
        """Written in a way not followed: every cluster is unknown."""
        self.clusters.pop(path, None)
        self.lost.add(path)

    def hosted(self, storage: object, image: Node, index: int) -> bool:
        """Whether cluster `index` of the qcow2 node has a host offset; abstains where unknown."""
        if image.filename in self.lost:
            raise NotModelled("qcow2: the image was written in a way the model cannot follow")
        known = self.clusters.get(image.filename, {})
        if index in known:
            state = known[index]
            if state is None:
                raise NotModelled("qcow2: a partial zero write left the cluster's L2 entry unknown")
            return state
        if not isinstance(storage, ContentFacts):
            raise NotModelled("qcow2: the storage cannot say what the image holds")
        size = _cluster_size(image)
        start, end = index * size, (index + 1) * size
        held = storage.content(image.filename, "qcow2")
        if any(offset < end and start < offset + length for offset, length, _byte in held):
            raise NotModelled("qcow2: whether a cluster held before the session has a host offset")
        return False

    def note_write(self, image: Node, offset: int, length: int, zeros: bool, unmap: bool) -> None:
        """A write of [offset, offset + length) through the qcow2 node succeeded."""
        if image.image is None or not image.image.cluster_size:
            self.lose(image.filename)  # (only a compressed write asks, and it needs the size)
            return
        size = image.image.cluster_size
        known = self.clusters.setdefault(image.filename, {})
        first, last = offset // size, (offset + length - 1) // size
        for index in range(first, last + 1):
            whole = offset <= index * size and (index + 1) * size <= offset + length
            if not zeros:
                known[index] = True
            elif not whole:
                known[index] = None
            elif unmap:
                known[index] = False if _version_3(image) else None
            elif known.get(index) is not False:  # zeros over a compressed cluster free it, else keep it
                known[index] = None


def _cluster_size(image: Node) -> int:
    if image.image is None or not image.image.cluster_size:
        raise NotModelled("qcow2: the image's cluster size is not known")
    return image.image.cluster_size


def _version_3(image: Node) -> bool:
    """compat 1.1: the image has zero clusters (a version 2 image's zero writes are not modelled)."""
    specific = image.image.format_specific if image.image is not None else None
    data = specific.get("data") if isinstance(specific, dict) else None
    return isinstance(data, dict) and data.get("compat") == "1.1"
