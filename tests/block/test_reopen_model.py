"""blockdev-reopen's backing links in the block model, on fake storage.

Pinned on real binaries by fixtures/block/regressions.json reopen-backing-*.
"""

from __future__ import annotations

import pytest

from block.test_block_model import FakeStorage
from reference.block.errors import BlockError, NotModelled
from reference.block.filenames import display_filename
from reference.block.graph import BlockGraph
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict, qnull

SOLO = ImageFacts("qcow2", 1 << 20, 65536)
BASE = ImageFacts("qcow2", 1 << 20, 65536)
TOP = ImageFacts("qcow2", 1 << 20, 65536, False, "/base", "qcow2", "/base")


def graph() -> BlockGraph:
    g = BlockGraph(FakeStorage({"/solo": (True, SOLO), "/base": (True, BASE), "/top": (True, TOP)}))
    for name, path in (("s", "/solo"), ("t", "/top")):
        file = QDict({"driver": "file", "node-name": name + "f", "filename": path})
        g.add(QDict({"driver": "qcow2", "node-name": name, "file": file}))
    return g


def reopen(g: BlockGraph, name: str, **extra: object) -> None:
    entry = QDict({"driver": "qcow2", "node-name": name, "file": name + "f"})
    for key, value in extra.items():
        entry.put(key.replace("_", "-"), value)  # type: ignore[arg-type]
    blockdev_reopen(g, [entry])


def names(g: BlockGraph) -> list[str]:
    return [node.name for node in g.nodes]


def test_backing_null_drops_the_nodes_opened_from_the_header() -> None:
    g = graph()
    assert len(names(g)) == 6  # s, sf, t's implicit base and its file, tf, t
    reopen(g, "t", backing=qnull)
    t = g.find("t")
    assert t is not None and t.backing is None
    assert names(g) == ["sf", "s", "tf", "t"]
    assert display_filename(t).startswith('json:{"backing": null, "driver": "qcow2"')
    with pytest.raises(BlockError, match=r"^backing is missing for 't'$"):  # the header still names one
        reopen(g, "t")
    reopen(g, "t", backing=qnull, read_only=True)  # null where there is none: no change
    assert t.read_only


def test_errors_leave_the_graph_as_it_was() -> None:
    g = graph()
    before = [(node.name, node.backing) for node in g.nodes]
    with pytest.raises(BlockError, match=r"^backing is missing for 't'$"):
        reopen(g, "t")
    with pytest.raises(BlockError, match=r"^Cannot find device='' nor node-name='nope'$"):
        reopen(g, "t", backing="nope")
    with pytest.raises(BlockError, match=r"^Making 't' a backing child of 't' would create a cycle$"):
        reopen(g, "t", backing="t")
    assert [(node.name, node.backing) for node in g.nodes] == before


def test_new_backing_by_name_blocks_it_until_detached() -> None:
    g = graph()
    s, t = g.find("s"), g.find("t")
    assert s is not None and t is not None
    reopen(g, "t", backing="s")
    assert t.backing is s and s.parents == [t] and len(g.nodes) == 4
    assert display_filename(t).startswith('json:{"backing": {"driver": "qcow2", "file": {"driver": "file"')
    with pytest.raises(BlockError, match=r"^Making 't' a backing child of 's' would create a cycle$"):
        reopen(g, "s", backing="t")
    with pytest.raises(BlockError, match=r"^Node 's' is busy: node is used as backing hd of 't'$"):
        g.delete("s")
    reopen(g, "t", backing=qnull)
    assert t.backing is None and s.parents == [] and not s.blockers
    g.delete("s")


def test_what_is_not_pinned_abstains() -> None:
    g = graph()
    with pytest.raises(NotModelled):  # its own file child as backing: qsd accepts, not pinned
        reopen(g, "t", backing="tf")
    with pytest.raises(NotModelled):  # a new backing and a read-only change at once
        reopen(g, "t", backing="s", read_only=True)
    with pytest.raises(NotModelled):
        reopen(g, "t", backing=QDict({"driver": "qcow2", "file": "sf"}))
