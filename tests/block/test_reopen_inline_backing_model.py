"""Inline options for a node's existing backing child in blockdev-reopen, in the model on fake storage.

Pinned on real binaries by fixtures/block/cases/reopen-245-inline-backing.json (qsd and
qemu-system 7.2): the child takes the options given and nothing old, a backing child's
read-only on by default; its file named as it is keeps what the child's options do not carry.
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_model import FakeStorage
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict

BASE = ImageFacts("qcow2", 1 << 20, 65536)
TOP = ImageFacts("qcow2", 1 << 20, 65536, backing_file="/base", backing_format="qcow2")
BF = {"driver": "file", "node-name": "bf", "filename": "/base"}
UNMAP_REFUSED = "^setting detect-zeroes to unmap is not allowed without setting discard operation to unmap$"


def qdict(members: dict[str, Any]) -> QDict:
    return QDict({key: qdict(value) if isinstance(value, dict) else value for key, value in members.items()})


def graph(writable: bool = True, **top: Any) -> BlockGraph:
    """t over tf with the backing b over bf, opened inline with t."""
    g = BlockGraph(FakeStorage({"/base": (writable, BASE), "/top": (writable, TOP)}))
    g.add(qdict({"driver": "qcow2", "node-name": "t", **top,
                 "file": {"driver": "file", "node-name": "tf", "filename": "/top"},
                 "backing": {"driver": "qcow2", "node-name": "b", "file": BF}}))  # fmt: skip
    return g


def reopen(g: BlockGraph, b: dict[str, Any] | str, **top: Any) -> None:
    backing: Any = b if isinstance(b, str) else {"driver": "qcow2", "node-name": "b", "file": "bf", **b}
    blockdev_reopen(
        g, [qdict({"driver": "qcow2", "node-name": "t", "file": "tf", **top, "backing": backing})]
    )


def shown(g: BlockGraph) -> dict[str, tuple[bool, bool, bool, str]]:
    """Each node's ro, cache.direct, cache.no-flush and detect-zeroes (query-named-block-nodes)."""
    return {
        node.name: (node.read_only, node.cache_direct, node.cache_no_flush, node.detect_zeroes)
        for node in g.nodes
        if node.name is not None
    }


def test_read_only_false_takes_the_child_and_its_file_read_write_and_stays_its_own() -> None:
    g = graph()
    reopen(g, {"read-only": False})
    assert {name: flags[0] for name, flags in shown(g).items()} == {
        "t": False,
        "tf": False,
        "b": False,
        "bf": False,
    }
    reopen(g, "b")  # named as it is: its own read-only false stays
    assert g.find("b").read_only is False  # type: ignore[union-attr]
    reopen(g, {})  # inline options without it: a backing child's default
    assert (g.find("b").read_only, g.find("bf").read_only) == (True, True)  # type: ignore[union-attr]


def test_a_file_named_as_it_is_keeps_the_cache_members_the_childs_options_do_not_carry() -> None:
    g = graph()
    reopen(g, {"cache": {"direct": True}})
    assert (shown(g)["b"][1:3], shown(g)["bf"][1:3]) == ((True, False), (True, False))
    reopen(g, {"cache": {"no-flush": True}})  # b: direct off (nothing old kept); bf keeps its direct
    assert (shown(g)["b"][1:3], shown(g)["bf"][1:3]) == ((False, True), (True, True))
    reopen(g, "b")  # b's options still carry only no-flush: bf keeps direct
    assert shown(g)["bf"][1:3] == (True, True)
    reopen(g, {}, cache={"direct": True})  # t's entry's member reaches b and, through b, bf
    assert shown(g)["b"][1:3] == (True, False) and shown(g)["bf"][1:3] == (True, True)


def test_detect_zeroes_shows_on_the_child_alone() -> None:
    g = graph(cache={"direct": True})
    reopen(g, {"detect-zeroes": "on"})
    assert shown(g)["b"] == (True, False, False, "on") and shown(g)["bf"] == (True, True, False, "off")
    assert shown(g)["t"] == (False, False, False, "off") and shown(g)["tf"][1] is True


def test_detect_zeroes_unmap_needs_no_discard_but_not_discard_ignore() -> None:
    g = graph()
    reopen(g, {"detect-zeroes": "unmap"})
    with pytest.raises(BlockError, match=UNMAP_REFUSED):
        reopen(g, {"discard": "ignore", "detect-zeroes": "unmap"})
    assert shown(g)["b"][3] == "unmap"  # nothing changed
    with pytest.raises(BlockError, match=UNMAP_REFUSED):  # the child's inline file is prepared too
        reopen(g, {"file": {"driver": "file", "node-name": "bf", "filename": "/base",
                            "discard": "ignore", "detect-zeroes": "unmap"}})  # fmt: skip


def test_auto_read_only_alone_leaves_the_child_read_only() -> None:
    g = graph()
    reopen(g, {"auto-read-only": True}, **{"auto-read-only": True})  # t's own does not reach b
    assert (g.find("b").read_only, g.find("b").auto_read_only) == (True, True)  # type: ignore[union-attr]


def test_a_parent_read_write_hands_its_backing_child_read_only_on() -> None:
    g = graph()
    reopen(g, "b", **{"read-only": False})
    assert g.find("b").read_only is True  # type: ignore[union-attr]


def test_read_only_false_on_a_read_only_mount_cannot_open_the_file() -> None:
    g = graph(writable=False, **{"read-only": True})
    for options in ({"read-only": False}, {"read-only": False, "auto-read-only": True}):
        with pytest.raises(BlockError, match=r"^Could not open '/base'"):
            reopen(g, options, **{"read-only": True})
    reopen(g, {"auto-read-only": True}, **{"read-only": True})
    assert g.find("bf").read_only is True  # type: ignore[union-attr]


def test_unprobed_options_abstain() -> None:
    g = graph()
    with pytest.raises(NotModelled):
        reopen(g, {"force-share": True, "read-only": True})
    with pytest.raises(NotModelled):
        reopen(g, {"cache": {"direct": True, "writeback": True}})
