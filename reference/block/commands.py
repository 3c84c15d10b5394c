"""The QMP block commands on a BlockGraph: checked arguments in, return value out.

They raise BlockError for QEMU's GenericError answers and NotModelled where
the model cannot predict; reference.qmp.commands wraps them as handlers. A
process model without storage facts gets an empty graph whose storage
abstains: name checks and lookups are still predicted.
"""

from __future__ import annotations

from reference.block.graph import BlockGraph
from reference.block.query import named_block_nodes
from reference.qobject.values import QDict, QObject


def blockdev_add(graph: BlockGraph, args: QDict) -> None:
    graph.add(args)


def blockdev_del(graph: BlockGraph, args: QDict) -> None:
    name = args.get("node-name")
    assert isinstance(name, str), "the input visitor checked 'node-name'"
    graph.delete(name)


def query_named_block_nodes(graph: BlockGraph, args: QDict) -> QObject:
    # 'flat' only drops backing-image, and the model has no backing chains yet.
    return named_block_nodes(graph)
