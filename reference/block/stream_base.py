"""block-stream's 'base' (a layer named by its file) and 'backing-file' (QEMU 7.2, 10.0, 11.1).

Pinned on qsd and qemu-system 7.2 (fixtures/block/cases/stream-options.json):
- 'base' is the deprecated way to name the base: QEMU walks the device's
  chain and, at each layer with a backing node, compares the file the string
  names with the file the layer's header names (both made absolute against the
  layer's folder, then canonical): the first layer whose header matches gives
  its backing node. Where the layer's backing node is not the one its header
  names (given inline over a header naming nothing or another file: its
  filename is then a json: one) the string must equal the backing node's
  filename exactly. An empty string or a path that does not exist matches no
  header: "Can't find '%s' in the backing chain", checked right after the
  device is found;
- 'backing-file' is the string written into the device's header in place of
  the base's filename; it needs a base (a 'bottom' is no base here):
  "backing file specified, but streaming the entire chain", checked after the
  op blockers and before the job ID;
- the header is rewritten whenever the device has a backing node, even when
  there was nothing to copy: with 'backing-file' the device's filename then
  becomes a json: one (its header no longer names the backing node's file).

The model compares normalised paths: the images live in a folder without
symbolic links. A protocol prefix, or a header naming a file other than the one
its backing node opened (whether that file exists is unknown), abstains.
"""

from __future__ import annotations

import posixpath
import re

from reference.block.errors import BlockError, NotModelled
from reference.block.filenames import backing_overridden, display_filename
from reference.block.graph import BlockGraph
from reference.block.job import chain
from reference.block.node import Node
from reference.qobject.values import QDict

ENTIRE_CHAIN_ERROR = "backing file specified, but streaming the entire chain"
# QEMU's path_has_protocol: a ':' before any '/'
PROTOCOL = re.compile(r"^[^:/]*:")


def find_backing_image(graph: BlockGraph, device: Node, name: str) -> Node:
    """The node 'base' names: the backing node of the first layer whose header names that file."""
    if PROTOCOL.match(name):
        raise NotModelled("block-stream: a 'base' with a protocol prefix is not modelled")
    for layer in chain(device):
        below = layer.backing
        if below is None:
            break
        if layer.filter_of is not None or below.filter_of is not None or layer.driver != "qcow2":
            raise NotModelled("block-stream: 'base' over filters or other formats is not modelled")
        if backing_overridden(layer):  # its header does not name the node: the node's filename, as given
            if name == display_filename(below):
                return below
            continue
        if not name:  # QEMU makes no absolute name of an empty string: no layer matches
            continue
        if layer.stale:  # a job rewrote the header: read it again
            graph.refresh_facts(layer)
        header = layer.image.backing_file if layer.image is not None else None
        if not header:
            continue
        if PROTOCOL.match(header):
            raise NotModelled("block-stream: 'base' over a header naming a protocol is not modelled")
        folder = _folder(layer)
        named = _absolute(folder, header)
        if _absolute(folder, name) != named or name.endswith(("/", "/.")):  # a file is no folder
            continue
        if ".." in name.split("/"):  # realpath needs each folder before '..' to exist
            raise NotModelled("block-stream: a 'base' with '..' in it is not modelled")
        if below.file_child is None or posixpath.normpath(below.file_child.filename) != named:
            raise NotModelled(
                "block-stream: a header naming another file than the backing node's is not modelled"
            )
        return below
    raise BlockError(f"Can't find '{name}' in the backing chain")


def check_backing_file(args: QDict, base: Node | None) -> str | None:
    """The string to write into the header instead of the base's filename (None: the filename)."""
    backing_file = args.get("backing-file")
    if backing_file is None:
        return None
    assert isinstance(backing_file, str), "the input visitor checked 'backing-file'"
    if base is None:
        raise BlockError(ENTIRE_CHAIN_ERROR)
    return backing_file


def _folder(layer: Node) -> str:
    file = layer.file_child
    if file is None or file.driver != "file":
        raise NotModelled("block-stream: 'base' on a layer without a file node is not modelled")
    return posixpath.dirname(file.filename)


def _absolute(folder: str, path: str) -> str:
    return posixpath.normpath(path if posixpath.isabs(path) else posixpath.join(folder, path))
