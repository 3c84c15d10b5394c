"""A backing child with its own blockdev-reopen entry next to its parent's, in the model on fake storage.

Pinned on real binaries by fixtures/block/cases/reopen-245-backing-entry.json (qsd and
qemu-system 7.2): QEMU queues the child twice, the order of the entries deciding its read-only.
"""

from __future__ import annotations

import pytest

from block.test_block_model import FakeStorage
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict, qnull

BASE = ImageFacts("qcow2", 1 << 20, 65536)
TOP = ImageFacts("qcow2", 1 << 20, 65536, backing_file="/base", backing_format="qcow2")
READ_ONLY = "^Block node is read-only$"


def graph(writable: bool = True, inline: bool = True, top_read_only: bool = False) -> BlockGraph:
    """t over tf with the backing b over bf: opened with t (inline) or added on its own."""
    g = BlockGraph(FakeStorage({"/base": (writable, BASE), "/top": (writable, TOP)}))
    base = QDict({"driver": "qcow2", "node-name": "b",
                  "file": QDict({"driver": "file", "node-name": "bf", "filename": "/base"})})  # fmt: skip
    if not inline:
        g.add(base)
    options = QDict({"driver": "qcow2", "node-name": "t", "read-only": top_read_only,
                     "file": QDict({"driver": "file", "node-name": "tf", "filename": "/top"}),
                     "backing": base if inline else "b"})  # fmt: skip
    g.add(options)
    return g


def t(**flags: bool) -> QDict:
    return _entry({"driver": "qcow2", "node-name": "t", "file": "tf", "backing": "b"}, flags)


def b(**flags: bool) -> QDict:
    return _entry({"driver": "qcow2", "node-name": "b", "file": "bf", "backing": qnull}, flags)


def bf(**flags: bool) -> QDict:
    return _entry({"driver": "file", "node-name": "bf", "filename": "/base"}, flags)


def _entry(members: dict[str, object], flags: dict[str, bool]) -> QDict:
    entry = QDict(dict(members))  # type: ignore[arg-type]
    for key, value in flags.items():
        entry.put(key.replace("_", "-"), value)
    return entry


def read_only(g: BlockGraph) -> dict[str, bool]:
    return {node.name: node.read_only for node in g.nodes if node.name is not None}


def test_the_parents_entry_last_leaves_the_backing_child_read_only() -> None:
    g = graph()
    blockdev_reopen(g, [b(), t()])  # 7.2 accepts it: t's pass sets b's read-only on
    assert read_only(g) == {"t": False, "tf": False, "b": True, "bf": True}


def test_the_childs_entry_last_gives_it_the_entrys_flags_over_its_read_only_file() -> None:
    g = graph()
    with pytest.raises(BlockError, match=READ_ONLY):
        blockdev_reopen(g, [t(), b()])
    with pytest.raises(BlockError, match=READ_ONLY):  # auto-read-only does not reach the file's read-only
        blockdev_reopen(g, [t(), b(auto_read_only=True)])
    blockdev_reopen(g, [t(), b(read_only=False)])  # its read-only does
    assert read_only(g) == {"t": False, "tf": False, "b": False, "bf": False}
    blockdev_reopen(g, [t(), b()])  # b's file took false as its own in b's pass
    assert read_only(g)["b"] is False
    blockdev_reopen(g, [b(), t()])
    assert read_only(g) == {"t": False, "tf": False, "b": True, "bf": True}


@pytest.mark.parametrize("child_first", [True, False])
def test_read_only_false_in_the_childs_entry_wins_in_either_order(child_first: bool) -> None:
    g = graph()
    blockdev_reopen(g, [b(read_only=False), t()] if child_first else [t(), b(read_only=False)])
    assert read_only(g) == {"t": False, "tf": False, "b": False, "bf": False}
    assert g.find("b").read_only_explicit  # type: ignore[union-attr]


def test_read_only_true_stays_the_childs_own() -> None:
    g = graph()
    blockdev_reopen(g, [t(), b(read_only=True)])
    blockdev_reopen(g, [t(), b()])  # the old model said "Block node is read-only"
    blockdev_reopen(g, [b(), t()])
    assert read_only(g) == {"t": False, "tf": False, "b": True, "bf": True}


def test_a_read_only_parent_after_a_read_write_child() -> None:
    g = graph()
    blockdev_reopen(g, [t(read_only=True), b(read_only=False, auto_read_only=True)])
    assert read_only(g) == {"t": True, "tf": True, "b": False, "bf": False}
    with pytest.raises(BlockError, match=READ_ONLY):  # t read-write: its file keeps t's old read-only
        blockdev_reopen(g, [t(), b()])


def test_the_files_own_entry_wins_and_a_read_only_change_under_a_writer_is_named() -> None:
    g = graph()
    blockdev_reopen(g, [t(), bf(read_only=False), b(read_only=True)])
    assert read_only(g) == {"t": False, "tf": False, "b": True, "bf": False}
    before = read_only(g)
    with pytest.raises(BlockError, match=r"^Read-only block node 'bf' cannot support read-write users$"):
        blockdev_reopen(g, [bf(read_only=True), b(read_only=False), t()])
    assert read_only(g) == before


def test_a_read_only_storage_refuses_the_read_write_fd() -> None:
    g = graph(writable=False, top_read_only=True)
    with pytest.raises(BlockError, match=r"^Could not open '/base': "):
        blockdev_reopen(g, [b(read_only=False), t(read_only=True)])
    blockdev_reopen(g, [b(auto_read_only=True), t(read_only=True)])
    with pytest.raises(BlockError, match=READ_ONLY):
        blockdev_reopen(g, [t(read_only=True), b(auto_read_only=True)])


def test_a_backing_node_added_on_its_own_is_not_queued_under_its_parent() -> None:
    g = graph(inline=False)
    blockdev_reopen(g, [t(), b()])
    assert read_only(g) == {"b": False, "bf": False, "t": False, "tf": False}


def test_shapes_not_probed_abstain() -> None:
    g = graph()
    inline_file = QDict({"driver": "file", "node-name": "tf", "filename": "/top"})
    with pytest.raises(NotModelled):  # inline options in a queue with a backing child's entry
        blockdev_reopen(g, [b(), _entry({**dict(t().items()), "file": inline_file}, {})])
