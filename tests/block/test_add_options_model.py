"""cache.* / detect-zeroes / discard given at blockdev-add, inherited, and kept or reset by reopen.

The block model on fake storage; pinned on qsd and qemu-system 7.2 by
fixtures/block/cases/add-options-245.json (iotest 245's test_backing_reference).
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_model import FakeStorage
from reference.block.add_options import UNMAP_REFUSED
from reference.block.drive import open_blockdev, open_drive, parse_drive
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.query import named_block_nodes
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict, QNull

IMAGE = ImageFacts("qcow2", 3 << 20, 65536)
TOP = ImageFacts(
    "qcow2", 1 << 20, 65536, backing_file="/base", backing_format="qcow2", full_backing_file="/base"
)
FILES: dict[str, tuple[bool, ImageFacts | None]] = {
    "/hd0": (True, IMAGE), "/hd1": (True, IMAGE), "/hd2": (True, IMAGE),
    "/base": (True, IMAGE), "/top": (True, TOP),
}  # fmt: skip
REFUSED = f"^{UNMAP_REFUSED}$"
ZEROES, DIRECT, NO_FLUSH = "detect-zeroes", {"direct": True}, {"no-flush": True}


def qdict(value: dict[str, Any]) -> QDict:
    """The options as the input visitor hands them over (None: JSON null)."""
    return QDict({key: _qobject(item) for key, item in value.items()})


def _qobject(item: Any) -> Any:
    return qdict(item) if isinstance(item, dict) else QNull() if item is None else item


def file(index: int, **extra: Any) -> dict[str, Any]:
    return {"driver": "file", "node-name": f"hd{index}-file", "filename": f"/hd{index}", **extra}


def hd(index: int, **extra: Any) -> dict[str, Any]:
    """iotest 245's hd_opts (a qcow2 node over its inline 'file' child), with EXTRA options."""
    return {"driver": "qcow2", "node-name": f"hd{index}", "file": file(index), **extra}


def graph(*adds: dict[str, Any]) -> BlockGraph:
    g = BlockGraph(FakeStorage(FILES))
    for options in adds:
        g.add(qdict(options))
    return g


def reopen(g: BlockGraph, entry: dict[str, Any]) -> None:
    blockdev_reopen(g, [qdict(entry)])


def shown(g: BlockGraph) -> dict[str, str]:
    """Each node as "<direct><no-flush> <detect_zeroes>" from query-named-block-nodes, e.g. "10 on"."""
    found: dict[str, str] = {}
    for info in named_block_nodes(g, flat=True):
        assert isinstance(info, QDict)
        cache, name = info.get("cache"), info.get("node-name")
        assert isinstance(cache, QDict)
        name = name if isinstance(name, str) else f"#{len(found)}"  # QEMU's own names: a pattern
        found[name] = f"{cache.get('direct'):d}{cache.get('no-flush'):d} {info.get('detect_zeroes')}"
    return found


def test_backing_reference() -> None:
    """iotest 245: naming 'backing' as it is keeps hd1's and hd2's detect-zeroes; hd0's goes back to off."""
    g = graph(hd(0, **{ZEROES: "on"}, backing=hd(1, **{ZEROES: "on"}, backing=hd(2, **{ZEROES: "on"}))))
    assert {name: shown(g)[name] for name in ("hd0", "hd1", "hd2", "hd0-file")} == {
        "hd0": "00 on", "hd1": "00 on", "hd2": "00 on", "hd0-file": "00 off"}  # fmt: skip
    reopen(g, {"driver": "qcow2", "node-name": "hd0", "file": "hd0-file", "backing": "hd1"})
    assert [shown(g)[f"hd{i}"] for i in range(3)] == ["00 off", "00 on", "00 on"]


def test_children_opened_with_the_parent_inherit_its_cache_not_detect_zeroes() -> None:
    g = graph(hd(0, cache=DIRECT | NO_FLUSH, **{ZEROES: "on"}, backing=hd(2, backing=None)))
    assert shown(g) == {"hd0": "11 on", "hd0-file": "11 off", "hd2": "11 off", "hd2-file": "11 off"}
    top = {"driver": "qcow2", "node-name": "top", "cache": DIRECT,
           "file": {"driver": "file", "node-name": "top-file", "filename": "/top"}}  # fmt: skip
    g = graph(top)  # the backing node QEMU opens from the header inherits too
    assert sorted(shown(g).values()) == ["10 off"] * 4


def test_a_referenced_child_keeps_its_own() -> None:
    g = graph(file(0), hd(0, file="hd0-file", cache=DIRECT))
    assert shown(g) == {"hd0": "10 off", "hd0-file": "00 off"}


def test_members_a_child_sets_stay_those_it_inherited_follow_the_entry() -> None:
    g = graph(hd(0, file=file(0, cache={"direct": True, "no-flush": False}), cache=NO_FLUSH,
                 backing=hd(1, cache=DIRECT, backing=None)))  # fmt: skip
    assert shown(g) == {"hd0": "01 off", "hd0-file": "10 off", "hd1": "11 off", "hd1-file": "11 off"}
    by_name = {"driver": "qcow2", "node-name": "hd0", "file": "hd0-file", "backing": "hd1"}
    reopen(g, by_name | {"cache": {"direct": False, "no-flush": False}})
    assert shown(g) == {"hd0": "00 off", "hd0-file": "10 off", "hd1": "10 off", "hd1-file": "10 off"}
    reopen(g, by_name)  # the entry sets nothing: the children keep theirs
    assert shown(g) == {"hd0": "00 off", "hd0-file": "10 off", "hd1": "10 off", "hd1-file": "10 off"}
    reopen(g, by_name | {"file": file(0), "cache": NO_FLUSH})  # inline: its own, then the entry's, then off
    assert shown(g) == {"hd0": "01 off", "hd0-file": "01 off", "hd1": "11 off", "hd1-file": "11 off"}
    reopen(
        g, {"driver": "file", "node-name": "hd0-file", "filename": "/hd0"}
    )  # on its own: nothing inherited
    reopen(g, by_name | {"cache": DIRECT})
    assert shown(g)["hd0-file"] == "10 off"


def test_detect_zeroes_unmap_needs_discard_unmap_on_a_node_opened_on_its_own() -> None:
    with pytest.raises(BlockError, match=REFUSED):
        graph(hd(0, **{ZEROES: "unmap"}))
    g = graph(hd(0, file=file(0, **{ZEROES: "unmap"})))  # a format node's child: discard unmap
    assert shown(g)["hd0-file"] == "00 unmap"
    with pytest.raises(BlockError, match=REFUSED):
        graph(hd(0, file=file(0, **{ZEROES: "unmap", "discard": "ignore"})))
    with pytest.raises(BlockError, match=f"^Could not open backing file: {UNMAP_REFUSED}$"):
        graph(hd(1, backing=hd(2, **{ZEROES: "unmap", "discard": "ignore"})))
    assert shown(graph(hd(1, backing=hd(2, **{ZEROES: "unmap"}))))["hd2"] == "00 unmap"


def test_the_order_of_errors_at_blockdev_add() -> None:
    g = graph(hd(0, backing=None))
    missing = {"driver": "file", "node-name": "x", "filename": "/missing"}
    with pytest.raises(BlockError, match=r"^Could not open '/missing'"):  # the 'file' child first
        g.add(qdict(hd(1, file=missing, **{ZEROES: "unmap"})))
    with pytest.raises(BlockError, match=REFUSED):  # then detect-zeroes, before the duplicate name
        g.add(qdict({"driver": "file", "node-name": "hd0", "filename": "/hd1", ZEROES: "unmap"}))
    with pytest.raises(
        BlockError, match=r"^Could not open backing file: Duplicate nodes with node-name='hd0'$"
    ):
        g.add(qdict(hd(1, backing=hd(2, **{"node-name": "hd0"}))))
    assert [node.name for node in g.nodes] == ["hd0-file", "hd0"]


def test_a_reopen_entry_leaving_discard_out_keeps_the_nodes() -> None:
    g = graph(hd(0, discard="unmap"))
    by_name = {"driver": "qcow2", "node-name": "hd0", "file": "hd0-file"}
    reopen(g, by_name | {ZEROES: "unmap"})
    assert shown(g)["hd0"] == "00 unmap"
    reopen(g, by_name | {"file": file(0, **{ZEROES: "unmap"}), "discard": "ignore"})
    assert shown(g) == {"hd0": "00 off", "hd0-file": "00 unmap"}
    with pytest.raises(BlockError, match=REFUSED):
        reopen(g, by_name | {ZEROES: "unmap"})
    with pytest.raises(BlockError, match=REFUSED):  # the inline child's own discard
        reopen(g, by_name | {"file": file(0, **{ZEROES: "unmap", "discard": "ignore"})})
    alone = {"driver": "file", "node-name": "hd0-file", "filename": "/hd0"}
    reopen(g, alone | {ZEROES: "unmap"})  # its discard from blockdev-add (inherited unmap) stays
    reopen(g, alone | {"discard": "ignore"})
    with pytest.raises(BlockError, match=REFUSED):
        reopen(g, alone | {ZEROES: "unmap"})
    assert shown(g) == {"hd0": "00 off", "hd0-file": "00 off"}


def test_command_line_cache_modes() -> None:
    """-drive cache= / detect-zeroes= and --blockdev cache.*: the root's (scenario drive-cache-options)."""
    g = graph()
    open_drive(g, parse_drive("if=none,file=/hd0,format=qcow2,node-name=n0,cache=none,detect-zeroes=on"))
    open_blockdev(
        g, "qcow2,node-name=t,file.driver=file,file.node-name=tf,file.filename=/top,cache.no-flush=on"
    )
    found = shown(g)
    assert (found["n0"], found["t"], found["tf"]) == ("10 on", "01 off", "01 off")
    assert sorted(value for name, value in found.items() if name not in ("n0", "t", "tf")) == [
        "01 off"
    ] * 2 + ["10 off"]  # n0's file child, and t's header backing node with its file
    with pytest.raises(NotModelled, match="cache=writethrough"):
        parse_drive("if=none,file=/hd0,cache=writethrough")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (hd(0, cache={}), "Block format 'qcow2' does not support the option 'cache'"),
        (hd(0, file=file(0, cache={})), "Block protocol 'file' doesn't support the option 'cache'"),
        (file(0, cache={}), "Block protocol 'file' doesn't support the option 'cache'"),
        (hd(0, cache={}, **{ZEROES: "unmap", "discard": "ignore"}), UNMAP_REFUSED),  # the open's checks first
        (hd(0, cache={}, file=file(9)), "Could not open '/hd9': No such file or directory"),
    ],
)
def test_an_empty_cache_is_an_option_no_open_takes(options: dict[str, Any], message: str) -> None:
    """Found by the stateful test (regressions.json add-empty-cache): QEMU's flattening keeps {} as
    a value, refused once the node opened; nothing stays."""
    g = graph()
    with pytest.raises(BlockError, match=f"^{message}$"):
        g.add(qdict(options))
    assert g.nodes == []


def test_a_reopen_with_an_empty_cache_abstains() -> None:
    g = graph(hd(0))
    with pytest.raises(NotModelled):
        reopen(g, {"driver": "qcow2", "node-name": "hd0", "file": file(0, cache={})})
