"""Deleted nodes are freed by reference counting, not left to the cycle collector.

A collection of the model's young objects with a dropped chain in them took
~170 µs, paid by whichever step happened to trigger it (tests/benchmarks/bench_block.py).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from reference.block.errors import BlockError
from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.block.query import named_block_nodes
from reference.block.storage import FileFacts, ImageFacts
from reference.qobject.values import QDict


def over(backing: str) -> ImageFacts:
    return ImageFacts(
        "qcow2", 1 << 20, 65536, backing_file=backing, backing_format="qcow2", full_backing_file=backing
    )


IMAGES = {"/base": ImageFacts("qcow2", 1 << 20, 65536), "/top": over("/base"), "/broken": over("/gone")}


class Storage:
    def open_error(self, path: str, write: bool) -> str | None:
        return None if path in IMAGES else "No such file or directory"

    def file(self, path: str) -> FileFacts:
        return FileFacts(size=1 << 18, allocated=1 << 18)

    def image(self, path: str) -> ImageFacts | None:
        return IMAGES.get(path)


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """What the collector finds unreachable, kept instead of freed."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.garbage.clear()
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def chain(path: str) -> QDict:
    return QDict({"driver": "qcow2", "node-name": "t", "file": QDict({"driver": "file", "filename": path})})


def test_a_deleted_chain_leaves_no_cycle(saved_garbage: list[object]) -> None:
    graph = BlockGraph(Storage())
    for _ in range(3):
        graph.add(chain("/top"))  # four nodes: the base opened from the header, inline files
        named_block_nodes(graph)  # their infos kept on them
        graph.delete("t")
    assert not graph.nodes
    gc.collect()
    assert [type(o).__name__ for o in saved_garbage if isinstance(o, Node)] == []


def test_a_failed_add_leaves_no_cycle(saved_garbage: list[object]) -> None:
    graph = BlockGraph(Storage())
    with pytest.raises(BlockError, match="Could not open backing file"):
        graph.add(chain("/broken"))  # the top and its file were made and attached first
    assert not graph.nodes
    gc.collect()
    assert [type(o).__name__ for o in saved_garbage if isinstance(o, Node)] == []
