"""query-named-block-nodes with a compress filter in the graph (reference/block/compress_filter.py).

Probed on qsd and qemu-system 7.2 and qsd 10.0 and 11.1 (the same answers, plus each version's own
members: 10.0's "active" and the file nodes' format-specific, 11.1's "children" and "limits"),
pinned by fixtures/block/cases/compress-filter.json and iotest-245.json:

- the filter's filename, its ImageInfo's too, is always json:{"driver": "compress", "file":
  {...}}, its child's open options inside (no node names), however plain the child's name;
  a raw node over it is named json:{...} in turn (a json: name below makes one above).
- it is a filter: no backing_file, but backing_file_depth counts the step to its child (1 over a
  qcow2 node without backing, 2 over one with a backing file), and its ImageInfo is its child's
  get_info (dirty-flag, cluster-size), actual-size and virtual-size, no format-specific, the
  child's whole ImageInfo as backing-image (without flat); its "children": 'file'.
- a raw node over it: no backing-image, depth 0, its file's get_info passed through the filter.
  So is a raw node over a qcow2 node (json:{"driver": "raw", "file": {...}} too, its file's
  virtual-size, cluster-size, actual-size and dirty-flag, no format-specific): a raw node's name
  is its file's only over a protocol node (over_format).

Shapes not probed abstain (abstains()): other versions, a filter over a node other than qcow2,
the filter with cache, detect-zeroes or discard options, any user of it but a raw node without
an offset or size.
"""

from __future__ import annotations

from reference.block.node import Node
from reference.block.raw_window import has_window

PROBED_PROFILES = frozenset({"7.2", "10.0", "11.1"})
OVER_FORMAT = frozenset({"qcow2", "compress"})  # a raw node's file children that make it json:{...}


def abstains(node: Node, profile_name: str) -> str | None:
    """Why query-named-block-nodes is not modelled with this compress node (None: it is)."""
    if profile_name not in PROBED_PROFILES:
        return f"a compress filter on QEMU {profile_name} (probed on 7.2, 10.0 and 11.1)"
    child = node.file_child
    if child is None or child.driver != "qcow2":
        return "a compress filter over a node other than qcow2"
    if node.cache_given or node.detect_zeroes != "off" or node.discard != "ignore":
        return "a compress filter with cache, detect-zeroes or discard options"
    if any(parent.driver != "raw" or has_window(parent) for parent in node.parents):
        return "a compress filter used by a node other than a raw node without offset or size"
    return None


def filtered(node: Node) -> Node:
    """The node the filter passes everything on to: its 'file'."""
    child = node.file_child
    assert child is not None, "a compress node has its 'file'"
    return child


def over_format(node: Node) -> bool:
    """A raw node whose 'file' is a qcow2 node or a compress filter: named json:{...}, its ImageInfo
    its file's members without backing-image, its virtual-size its window's (qsd 7.2: a window over
    a qcow2 node, fixtures/block/cases/raw-window-format.json; over the filter it abstains:
    abstains())."""
    child = node.file_child
    return node.driver == "raw" and child is not None and child.driver in OVER_FORMAT
