"""blockdev-reopen's cache modes and detect-zeroes in the block model, on fake storage.

Pinned on qsd and qemu-system 7.2 by fixtures/block/cases/reopen-245-cache.json (iotest 245).
"""

from __future__ import annotations

import pytest

from block.test_block_model import FakeStorage
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.query import named_block_nodes
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict, QObject

BASE = ImageFacts("qcow2", 1 << 20, 65536)
TOP = ImageFacts(
    "qcow2", 1 << 20, 65536, backing_file="/base", backing_format="qcow2", full_backing_file="/base"
)
INLINE_TF: dict[str, QObject] = {"driver": "file", "node-name": "tf", "filename": "/top"}


def chain() -> BlockGraph:
    """t (file tf) over b (file bf), every child opened inline: they inherit t's options."""
    g = BlockGraph(FakeStorage({"/top": (True, TOP), "/base": (True, BASE)}))
    base = QDict({"driver": "qcow2", "node-name": "b",
                  "file": QDict({"driver": "file", "node-name": "bf", "filename": "/base"})})  # fmt: skip
    g.add(QDict({"driver": "qcow2", "node-name": "t", "file": QDict(INLINE_TF), "backing": base}))
    return g


def reopen(g: BlockGraph, node: str = "t", **extra: object) -> None:
    entry = QDict({"driver": "qcow2", "node-name": node, "file": f"{node}f"})
    if node == "t":
        entry.put("backing", "b")
    for key, value in extra.items():
        if isinstance(value, dict):
            value = QDict(value)
        entry.put(key.replace("_", "-"), value)  # type: ignore[arg-type]
    blockdev_reopen(g, [entry])


def shown(g: BlockGraph) -> dict[str, tuple[bool, bool, str]]:
    """Each node's cache.direct, cache.no-flush and detect_zeroes as query-named-block-nodes has them."""
    found = {}
    for info in named_block_nodes(g, flat=True):
        assert isinstance(info, QDict)
        cache, name, zeroes = info.get("cache"), info.get("node-name"), info.get("detect_zeroes")
        assert isinstance(cache, QDict) and isinstance(name, str) and isinstance(zeroes, str)
        assert cache.get("writeback") is True
        direct, no_flush = cache.get("direct"), cache.get("no-flush")
        assert isinstance(direct, bool) and isinstance(no_flush, bool)
        found[name] = (direct, no_flush, zeroes)
    return found


def everywhere(direct: bool, no_flush: bool) -> dict[str, tuple[bool, bool, str]]:
    return {name: (direct, no_flush, "off") for name in ("t", "tf", "b", "bf")}


def test_defaults_after_blockdev_add() -> None:
    assert shown(chain()) == everywhere(False, False)


def test_cache_is_handed_down_to_inheriting_children() -> None:
    g = chain()
    reopen(g, cache={"direct": True, "no-flush": True})
    assert shown(g) == everywhere(True, True)
    reopen(g, cache={"direct": True})  # the node: left out is off; the children keep no-flush
    assert shown(g)["t"] == (True, False, "off")
    assert shown(g)["bf"] == (True, True, "off")


def test_children_named_as_they_are_keep_theirs_when_left_out() -> None:
    g = chain()
    reopen(g, cache={"direct": True})
    reopen(g, file=INLINE_TF)  # tf given inline: back to the defaults; b and bf keep theirs
    assert shown(g) == {"t": (False, False, "off"), "tf": (False, False, "off"),
                        "b": (True, False, "off"), "bf": (True, False, "off")}  # fmt: skip
    reopen(g, cache={"direct": False, "no-flush": False})
    assert shown(g) == everywhere(False, False)


def test_detect_zeroes_is_the_nodes_own() -> None:
    g = chain()
    reopen(g, detect_zeroes="on")
    assert shown(g)["t"] == (False, False, "on")
    assert {shown(g)[name][2] for name in ("tf", "b", "bf")} == {"off"}
    reopen(g, detect_zeroes="unmap", discard="unmap")
    assert shown(g)["t"][2] == "unmap"
    reopen(g, "b", read_only=True, detect_zeroes="on")
    reopen(g)  # b named as it is: it keeps "on"; t's left out: "off"
    assert shown(g)["t"][2] == "off" and shown(g)["b"][2] == "on"


def test_a_refused_reopen_changes_nothing() -> None:
    g = chain()
    with pytest.raises(BlockError, match=r"^Block node is read-only$"):
        reopen(g, "b", cache={"direct": True})  # b left out read-only under its writable parent
    with pytest.raises(BlockError, match=r"^setting detect-zeroes to unmap"):
        reopen(g, cache={"direct": True}, detect_zeroes="unmap")
    assert shown(g) == everywhere(False, False)


def test_kept_answers_follow_a_reopen() -> None:
    g = chain()
    before = named_block_nodes(g)
    reopen(g, cache={"no-flush": True})
    after = named_block_nodes(g)
    assert after != before
    for node in g.nodes:
        node.query_cache.clear()
    assert named_block_nodes(g) == after


def with_cache(entry: dict[str, QObject], cache: dict[str, bool]) -> QDict:
    """The entry with these cache members (none: no 'cache')."""
    if cache:
        entry["cache"] = QDict({member.replace("_", "-"): value for member, value in cache.items()})
    return QDict(entry)


def t_entry(**cache: bool) -> QDict:
    return with_cache({"driver": "qcow2", "node-name": "t", "file": "tf", "backing": "b"}, cache)


def tf_entry(**cache: bool) -> QDict:
    return with_cache(dict(INLINE_TF), cache)


def cache_of(g: BlockGraph, name: str) -> tuple[bool, bool]:
    direct, no_flush, _zeroes = shown(g)[name]
    return direct, no_flush


def test_a_file_entry_after_its_parents_takes_none_of_the_parents_cache() -> None:
    g = chain()
    blockdev_reopen(g, [t_entry(direct=True, no_flush=True), tf_entry()])
    assert cache_of(g, "tf") == (False, False)
    assert cache_of(g, "t") == cache_of(g, "b") == cache_of(g, "bf") == (True, True)
    blockdev_reopen(g, [t_entry(direct=True), tf_entry(no_flush=True)])
    assert cache_of(g, "tf") == (False, True)


def test_a_file_entry_before_its_parents_takes_the_parents_members_it_leaves_out() -> None:
    g = chain()
    blockdev_reopen(g, [tf_entry(), t_entry(direct=True, no_flush=True)])
    assert cache_of(g, "tf") == (True, True)
    blockdev_reopen(g, [tf_entry(no_flush=False), t_entry(direct=False)])
    assert cache_of(g, "tf") == (False, False)
    g = chain()
    blockdev_reopen(g, [tf_entry(direct=True), t_entry(no_flush=False)])
    assert cache_of(g, "tf") == (True, False)


def test_a_file_keeps_the_members_it_set_itself_only_when_its_entry_comes_second() -> None:
    g = chain()
    tf = g.find("tf")
    assert tf is not None
    tf.cache_no_flush, tf.cache_given = True, frozenset({"no-flush"})  # as blockdev-add leaves it
    blockdev_reopen(g, [t_entry(direct=True), tf_entry(direct=False)])
    assert cache_of(g, "tf") == (False, True)
    assert tf.cache_given == frozenset({"direct", "no-flush"})
    blockdev_reopen(g, [tf_entry(direct=False), t_entry(direct=True, no_flush=False)])
    assert cache_of(g, "tf") == (False, False)
    assert tf.cache_given == frozenset({"direct"})


def test_a_backing_child_or_a_node_named_twice_with_its_parent_abstains() -> None:
    g = chain()
    b = QDict({"driver": "qcow2", "node-name": "b", "file": "bf", "read-only": True})
    for entries in ([t_entry(direct=True), b], [b, t_entry(direct=True)],
                    [tf_entry(), t_entry(direct=True), tf_entry(direct=True)]):  # fmt: skip
        with pytest.raises(NotModelled):
            blockdev_reopen(g, entries)
        assert shown(g) == everywhere(False, False)
