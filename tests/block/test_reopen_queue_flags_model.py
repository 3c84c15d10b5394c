"""When blockdev-reopen's file-posix node must open its fd read-write, in the block model on fake storage.

Pinned on real binaries by fixtures/block/cases/reopen-queue-flags.json and
fixtures/block/regressions.json reopen-child-entry-before-writable-parent.
"""

from __future__ import annotations

import pytest

from block.test_block_model import FakeStorage
from reference.block.errors import BlockError
from reference.block.graph import BlockGraph
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict, qnull

SOLO = ImageFacts("qcow2", 1 << 20, 65536)
NO_WRITE = r"^Could not open '/solo': Read-only file system$"


def graph(writable: bool) -> BlockGraph:
    """A read-only qcow2 node over a file node opened with auto-read-only."""
    g = BlockGraph(FakeStorage({"/solo": (writable, SOLO), "/raw": (False, None)}))
    file = QDict({"driver": "file", "node-name": "n1f", "filename": "/solo", "auto-read-only": True})
    g.add(QDict({"driver": "qcow2", "node-name": "n1", "read-only": True, "file": file}))
    g.add(QDict({"driver": "file", "node-name": "ot", "filename": "/raw", "read-only": True}))
    return g


def child(**extra: object) -> QDict:
    entry = QDict({"driver": "file", "node-name": "n1f", "filename": "/solo", "read-only": False})
    for key, value in extra.items():
        entry.put(key.replace("_", "-"), value)  # type: ignore[arg-type]
    return entry


def parent(**extra: object) -> QDict:
    entry = QDict({"driver": "qcow2", "node-name": "n1", "file": "n1f", "backing": qnull, "read-only": False})
    for key, value in extra.items():
        entry.put(key.replace("_", "-"), value)  # type: ignore[arg-type]
    return entry


def flags(g: BlockGraph) -> list[tuple[str, bool, bool]]:
    return [(node.name, node.read_only, node.auto_read_only) for node in g.nodes]


@pytest.mark.parametrize("child_aro", [None, True, False])
@pytest.mark.parametrize("child_first", [True, False])
def test_a_parent_made_writable_needs_a_writable_file_whatever_the_order(
    child_first: bool, child_aro: bool | None
) -> None:
    g = graph(writable=False)
    before = flags(g)
    own = child() if child_aro is None else child(auto_read_only=child_aro)
    with pytest.raises(BlockError, match=NO_WRITE):
        blockdev_reopen(g, [own, parent()] if child_first else [parent(), own])
    assert flags(g) == before


def test_on_writable_storage_the_child_keeps_auto_read_only_and_goes_read_write() -> None:
    g = graph(writable=True)
    blockdev_reopen(g, [child(), parent()])
    assert flags(g)[:2] == [("n1f", False, True), ("n1", False, False)]


def test_the_fd_is_opened_after_every_entry_is_prepared() -> None:
    g = graph(writable=False)
    other = QDict({"driver": "file", "node-name": "ot", "filename": "/solo", "read-only": True})
    with pytest.raises(BlockError, match=r"^Cannot find device='' nor node-name='nosuch'$"):
        blockdev_reopen(g, [child(), parent(file="nosuch")])
    with pytest.raises(BlockError, match=r"^Cannot change the option 'filename'$"):
        blockdev_reopen(g, [child(auto_read_only=False), parent(read_only=True), other])
    inline = QDict({"driver": "file", "node-name": "n1f", "filename": "/solo"})
    with pytest.raises(BlockError, match=r"^Cannot change the option 'filename'$"):
        blockdev_reopen(g, [parent(file=inline), other])
    with pytest.raises(BlockError, match=NO_WRITE):  # alone, the fd's error
        blockdev_reopen(g, [parent(file=inline)])
