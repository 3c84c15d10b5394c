"""Which qcow2 clusters have a host cluster behind them: what a compressed write needs to know.

A compressed write into a qcow2 cluster succeeds only where the cluster's
L2 entry has no host offset (reference/block/compress_filter.py). The oracle
never reads L2 tables; it starts from what qemu-img map showed of the image
(HostingFacts: a range with a host offset is plain data, or a preallocated
zero cluster; data without one is stored compressed; the rest has none) and
follows HMP qemu-io's writes through the image (pinned on qemu-system 7.2,
10.0 and 11.1, compress-filter.json):

- a data write gives every cluster it touches a host offset, plain or, through
  the compress filter, compressed;
- a zero write over a whole cluster of a version 3 image frees it where the
  request may unmap; else it keeps a plain cluster's host offset (a zero
  cluster with an offset), frees a compressed one and leaves one without as
  it was. A partial zero write, and any zero write into a version 2 image
  (no zero clusters), is not followed.
- whether `write -z -u` may unmap: every node the request passes down to,
  from the one written to down to the qcow2 node, strips the flag unless its
  discard is 'unmap'. 7.2 asks only the nodes below the one written to (it
  checks a child as its parent hands the request on), so there a `write -z
  -u` on the qcow2 node frees whatever its discard; from 10.0 on the node
  written to counts too (Profile.zero_unmap_own_discard), so the qcow2 node
  needs discard=unmap itself, and a compressed write into a cluster
  `write -z -u` left plain fails with EIO. A file node's discard never counts.

Where the storage cannot say (no HostingFacts: only whether the image held
the cluster at all), a held cluster's state is unknown and a question about
it abstains, as for a file a job wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, runtime_checkable

from reference.block.errors import NotModelled
from reference.block.guest_data import ContentFacts
from reference.block.node import Node
from reference.profiles import Profile


class Host(Enum):
    """A cluster's L2 entry: no host offset, a plain one, or compressed data."""

    FREE = "free"
    PLAIN = "plain"
    COMPRESSED = "compressed"


Known = dict[int, Host | None]  # cluster index -> its L2 entry (None: unknown)
Extents = list[tuple[int, int, Host]]  # (offset, length, entry) of the guest ranges with a host offset


@runtime_checkable
class HostingFacts(Protocol):
    """Storage that can say which guest ranges of a qcow2 image have a host offset."""

    def hosting(self, path: str) -> list[tuple[int, int, str]]:
        """(offset, length, "plain" | "compressed") of the image's own ranges with a host
        offset, ascending; elsewhere the image has none."""
        ...


@dataclass
class ClusterHosting:
    """Per qcow2 file: the clusters the session's writes made known."""

    clusters: dict[str, Known] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)
    facts: dict[str, Extents] = field(default_factory=dict)  # read once: QEMU may cache metadata

    def forget(self, path: str) -> None:
        """The file's facts are read again: only they count."""
        self.clusters.pop(path, None)
        self.facts.pop(path, None)
        self.lost.discard(path)

    def lose(self, path: str) -> None:
        """Written in a way not followed: every cluster is unknown."""
        self.clusters.pop(path, None)
        self.lost.add(path)

    def hosted(self, storage: object, image: Node, index: int) -> bool:
        """Whether cluster `index` of the qcow2 node has a host offset; abstains where unknown."""
        return self._state(storage, image, index) is not Host.FREE

    def _state(self, storage: object, image: Node, index: int) -> Host:
        if image.filename in self.lost:
            raise NotModelled("qcow2: the image was written in a way the model cannot follow")
        known = self.clusters.get(image.filename, {})
        if index in known:
            state = known[index]
            if state is None:
                raise NotModelled("qcow2: a zero write left the cluster's L2 entry unknown")
            return state
        return self._initial(storage, image, index)

    def _initial(self, storage: object, image: Node, index: int) -> Host:
        """The cluster's entry as the image had it when its facts were read."""
        size = _cluster_size(image)
        start, end = index * size, (index + 1) * size
        if isinstance(storage, HostingFacts):
            inside = [
                (o, n, h) for o, n, h in self._mapped(storage, image.filename) if o < end and start < o + n
            ]
            if not inside:
                return Host.FREE
            if len(inside) > 1 or inside[0][0] > start or inside[0][0] + inside[0][1] < end:
                raise NotModelled("qcow2: a cluster only partly mapped (subclusters) is not modelled")
            return inside[0][2]
        if not isinstance(storage, ContentFacts):
            raise NotModelled("qcow2: the storage cannot say what the image holds")
        held = storage.content(image.filename, "qcow2")
        if any(offset < end and start < offset + length for offset, length, _byte in held):
            raise NotModelled("qcow2: whether a cluster held before the session has a host offset")
        return Host.FREE

    def _mapped(self, storage: HostingFacts, path: str) -> Extents:
        if path not in self.facts:
            self.facts[path] = [
                (offset, length, Host(kind)) for offset, length, kind in storage.hosting(path)
            ]
        return self.facts[path]

    def note_write(
        self,
        storage: object,
        image: Node,
        offset: int,
        length: int,
        *,
        zeros: bool,
        unmap: bool,
        compressed: bool = False,
    ) -> None:
        """A write of [offset, offset + length) through the qcow2 node succeeded; unmap: a zero
        write that may unmap once it reaches the qcow2 node (see unmap_reaches)."""
        if image.image is None or not image.image.cluster_size:
            self.lose(image.filename)  # (only a compressed write asks, and it needs the size)
            return
        size = image.image.cluster_size
        first, last = offset // size, (offset + length - 1) // size
        after: Known = {}
        for index in range(first, last + 1):
            whole = offset <= index * size and (index + 1) * size <= offset + length
            if not zeros:
                after[index] = Host.COMPRESSED if compressed else Host.PLAIN
            elif not whole or not _version_3(image):
                after[index] = None
            elif unmap:
                after[index] = Host.FREE
            else:  # zeroed in place: a plain cluster keeps its offset, a compressed one cannot
                after[index] = self._zeroed(storage, image, index)
        self.clusters.setdefault(image.filename, {}).update(after)

    def _zeroed(self, storage: object, image: Node, index: int) -> Host | None:
        try:
            before = self._state(storage, image, index)
        except NotModelled:
            return None
        return Host.PLAIN if before is Host.PLAIN else Host.FREE


def unmap_reaches(profile: Profile, root: Node, image: Node) -> bool:
    """Whether a zero write that may unmap, sent to `root`, still may when it reaches `image`
    (a qcow2 node below root through 'file' links): each node that checks it has discard=unmap."""
    chain = [root]
    while chain[-1] is not image and chain[-1].file_child is not None:
        chain.append(chain[-1].file_child)
    checked = chain if profile.zero_unmap_own_discard else chain[1:]
    return all(node.discard == "unmap" for node in checked)


def _cluster_size(image: Node) -> int:
    if image.image is None or not image.image.cluster_size:
        raise NotModelled("qcow2: the image's cluster size is not known")
    return image.image.cluster_size


def _version_3(image: Node) -> bool:
    """compat 1.1: the image has zero clusters (a version 2 image's zero writes are not modelled)."""
    specific = image.image.format_specific if image.image is not None else None
    data = specific.get("data") if isinstance(specific, dict) else None
    return isinstance(data, dict) and data.get("compat") == "1.1"
