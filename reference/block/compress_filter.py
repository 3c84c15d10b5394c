"""The 'compress' filter: a node over a format node that turns every data write into a compressed one.

Pinned on qsd and qemu-system 7.2, 10.0 and 11.1 (iotest 245's
test_insert_compress_filter, fixtures/block/cases/iotest-245.json and
compress-filter.json):

- blockdev-add: its 'file' opens first (by name or inline, as throttle's);
  then the file's driver must write compressed data (qcow2, qcow, vmdk), else
  "Compression is not supported for underlying format: DRIVER" (a file node
  is refused: the filter sits over a format node). Unused, it takes nothing
  of its child (a filter passes its users' permissions down), so it may go
  over a format node another node uses; a raw or qcow2 node may take it as
  its new 'file' by blockdev-reopen and drop it again
  (reference/block/reopen_filter_insert.py). No option of its own, and no
  reopen: "Block format 'compress' used by node 'NAME' does not support
  reopening files" (reference/block/other_drivers.py).
- I/O: reads, zero writes and discards pass through; its request alignment
  is the image's cluster size, so a data write is widened to whole clusters
  (the rest read first) and each cluster goes to qcow2 as a compressed write,
  which fails with EIO ("write failed: Input/output error") unless the
  cluster has no host offset (reference/block/qcow2_hosting.py): once
  written, compressed or not, a cluster takes no second compressed write
  (a zero write frees a compressed one; whether `write -z -u` frees a plain
  one depends on the version and the nodes' discard).
  A write that only partly fails, a zero write not on cluster boundaries and
  an image whose size is not a whole number of clusters abstain.
- query-named-block-nodes: reference/block/compress_query.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.block.errors import BlockError, NotModelled
from reference.block.guest_data import node_size
from reference.block.node import Node
from reference.block.qcow2_hosting import ClusterHosting

COMPRESSING_FORMATS = frozenset({"qcow2", "qcow", "vmdk"})  # drivers with a compressed-write path
PASS_THROUGH = frozenset({"raw", "throttle", "compress"})  # a write goes on to their 'file' child


def check_child(child: Node) -> None:
    """compress's open: its 'file' (already attached) must write compressed data."""
    if child.driver not in COMPRESSING_FORMATS:
        raise BlockError(f"Compression is not supported for underlying format: {child.driver}")


@dataclass(frozen=True)
class Target:
    """Where a write through a node lands in the first qcow2 node below it."""

    image: Node
    offset: int
    compressed: bool  # it crossed a compress filter


def target_of(root: Node, offset: int) -> Target | None:
    """The qcow2 node a write at `offset` through `root` reaches (None: it reaches none)."""
    node: Node | None = root
    compressed = False
    while node is not None and node.driver in PASS_THROUGH:
        if node.driver == "raw":
            offset += node.raw_offset
        compressed = compressed or node.driver == "compress"
        node = node.file_child
    if node is None or node.driver != "qcow2":
        if compressed:
            raise NotModelled("compress: a filter over a driver other than qcow2 is not modelled")
        return None
    return Target(node, offset, compressed)


def compressed_write_succeeds(
    storage: object, hosting: ClusterHosting, target: Target, length: int, zeros: bool
) -> bool:
    """Whether a write of `length` bytes through a compress filter succeeds (False: EIO, nothing
    written); abstains where the clusters' state or the widened request is not modelled."""
    image = target.image
    if image.image is None or not image.image.cluster_size:
        raise NotModelled("compress: the image's cluster size is not known")
    cluster = image.image.cluster_size
    if node_size(image) % cluster:
        raise NotModelled("compress: an image with a partial last cluster is not modelled")
    first, last = target.offset // cluster, (target.offset + length - 1) // cluster
    if zeros:
        if target.offset % cluster or length % cluster:
            raise NotModelled("compress: a zero write not on cluster boundaries (its edges compress)")
        return True
    hosted = {hosting.hosted(storage, image, index) for index in range(first, last + 1)}
    if hosted == {True, False}:
        raise NotModelled("compress: a write over clusters of which only some can take it")
    return hosted == {False}
