"""blockdev-reopen's option changes (iotest 245's test_reopen) in the block model, on fake storage.

Pinned on qsd and qemu-system 7.2 by fixtures/block/cases/reopen-245-options.json.
"""

from __future__ import annotations

import pytest

from block.test_block_model import FakeStorage
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict

SOLO = ImageFacts("qcow2", 1 << 20, 65536)
UNMAP = "setting detect-zeroes to unmap is not allowed without setting discard operation to unmap"
ENTRY_SIZE = r"^L2 cache entry size must be a power of two between 512 and the cluster size \(65536\)$"


def graph() -> BlockGraph:
    g = BlockGraph(FakeStorage({"/solo": (True, SOLO)}))
    g.add(
        QDict(
            {
                "driver": "qcow2",
                "node-name": "s",
                "file": QDict({"driver": "file", "node-name": "sf", "filename": "/solo"}),
            }
        )
    )
    return g


def reopen(g: BlockGraph, **extra: object) -> None:
    entry = QDict({"driver": "qcow2", "node-name": "s", "file": "sf"})
    for key, value in extra.items():
        entry.put(key.replace("_", "-"), value)  # type: ignore[arg-type]
    blockdev_reopen(g, [entry])


def read_only(g: BlockGraph) -> bool:
    node = g.find("s")
    assert node is not None
    return node.read_only


def test_detect_zeroes_unmap_wants_discard_unmap() -> None:
    g = graph()
    with pytest.raises(BlockError, match=f"^{UNMAP}$"):
        reopen(g, detect_zeroes="unmap", read_only=True)
    assert not read_only(g)  # nothing changed
    with pytest.raises(BlockError, match=f"^{UNMAP}$"):
        reopen(g, detect_zeroes="unmap", discard="ignore")
    reopen(g, detect_zeroes="off", discard="unmap", read_only=True)
    assert read_only(g)


def test_force_share_cannot_change_whatever_its_value() -> None:
    for value in (True, False):
        with pytest.raises(BlockError, match=r"^Cannot change the option 'force-share'$"):
            reopen(graph(), force_share=value)


@pytest.mark.parametrize("size", [0, 64, 100, 127, 1 << 17])
def test_l2_entry_size_outside_512_to_the_cluster_size(size: int) -> None:
    with pytest.raises(BlockError, match=ENTRY_SIZE):
        reopen(graph(), l2_cache_entry_size=size)


def test_cache_sizes() -> None:
    g = graph()
    with pytest.raises(BlockError, match=r"^l2-cache-size may not exceed cache-size$"):
        reopen(g, l2_cache_size=100, cache_size=50, l2_cache_entry_size=100)  # before the entry size
    with pytest.raises(BlockError, match=r"^refcount-cache-size may not exceed cache-size$"):
        reopen(g, refcount_cache_size=100, cache_size=50)
    with pytest.raises(
        BlockError, match=r"^cache-size, l2-cache-size and refcount-cache-size may not be set"
    ):
        reopen(g, l2_cache_size=8, refcount_cache_size=8, cache_size=120)
    reopen(g, l2_cache_size=64, cache_size=127, pass_discard_request=True, read_only=True)
    assert read_only(g)


def test_an_option_error_in_a_node_named_twice_with_another_error_abstains() -> None:
    g = graph()
    first = QDict({"driver": "qcow2", "node-name": "s", "file": "sf", "force-share": True})
    second = QDict({"driver": "qcow2", "node-name": "s", "file": "sf", "detect-zeroes": "unmap"})
    with pytest.raises(NotModelled, match="with another error"):  # the queue's order: not pinned
        blockdev_reopen(g, [first, second])
