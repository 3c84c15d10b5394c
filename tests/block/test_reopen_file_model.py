"""blockdev-reopen's 'file' link, inline child options and repeated entries, on fake storage.

Pinned on real binaries by fixtures/block/cases/reopen-245.json.
"""

from __future__ import annotations

import pytest

from block.test_block_model import FakeStorage
from reference.block.errors import BlockError, NotModelled
from reference.block.exports import block_export_add, nbd_server_start
from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.block.reopen import blockdev_reopen
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict, QObject, qnull

SOLO = ImageFacts("qcow2", 1 << 20, 65536)
TOP = ImageFacts("qcow2", 1 << 20, 65536, False, "/base", "qcow2", "/base")


def graph() -> BlockGraph:
    files: dict[str, tuple[bool, ImageFacts | None]] = {
        "/solo": (True, SOLO), "/top": (True, TOP), "/raw": (True, None), "/raw2": (True, None),
        "/ro": (False, None), "/base": (True, SOLO),
        "/solo2": (True, SOLO),
    }  # fmt: skip
    g = BlockGraph(FakeStorage(files))
    g.add(QDict({"driver": "qcow2", "node-name": "s", "file": file_options("/solo", "sf")}))
    g.add(QDict({"driver": "raw", "node-name": "r", "file": file_options("/raw", "rf")}))
    return g


def file_options(path: str, name: str | None = None, **flags: bool) -> QDict:
    options: dict[str, QObject] = {"driver": "file", "filename": path}
    if name is not None:
        options["node-name"] = name
    options.update({key.replace("_", "-"): value for key, value in flags.items()})
    return QDict(options)


def entry(driver: str, name: str, file: QObject, **extra: QObject) -> QDict:
    options: dict[str, QObject] = {"driver": driver, "node-name": name, "file": file}
    options.update({key.replace("_", "-"): value for key, value in extra.items()})
    return QDict(options)


def node(g: BlockGraph, name: str) -> Node:
    found = g.find(name)
    assert found is not None, name
    return found


def test_a_new_file_node_replaces_the_inline_one() -> None:
    g = graph()
    g.add(file_options("/raw2", "f2"))
    s, f2 = node(g, "s"), node(g, "f2")
    blockdev_reopen(g, [entry("qcow2", "s", "f2")])
    assert s.file_child is f2 and f2.parents == [s] and g.find("sf") is None
    assert s.filename == "/raw2" and s.image is SOLO  # the header read at open stays
    with pytest.raises(BlockError, match=r"^Cannot find device='' nor node-name='sf'$"):
        blockdev_reopen(g, [entry("qcow2", "s", "sf")])


def test_file_link_errors_leave_the_graph_as_it_was() -> None:
    g = graph()
    g.add(file_options("/ro", "rof", read_only=True))
    g.add(QDict({"driver": "raw", "node-name": "above", "file": "r"}))
    before = [(n.name, n.file_child) for n in g.nodes]
    with pytest.raises(BlockError, match=r"^Cannot find device='' nor node-name=''$"):
        blockdev_reopen(g, [entry("qcow2", "s", "")])
    with pytest.raises(BlockError, match=r"^Making 's' a file child of 's' would create a cycle$"):
        blockdev_reopen(g, [entry("qcow2", "s", "s", read_only=True)])
    with pytest.raises(BlockError, match=r"^Making 'above' a file child of 'r' would create a cycle$"):
        blockdev_reopen(g, [entry("raw", "r", "above")])
    with pytest.raises(BlockError, match=r"^Block node is read-only$"):  # a writable qcow2 over it
        blockdev_reopen(g, [entry("qcow2", "s", "rof")])
    with pytest.raises(BlockError, match=r"^Cannot find device='' nor node-name='nope'$"):  # before 'driver'
        blockdev_reopen(g, [entry("raw", "s", "nope")])
    assert [(n.name, n.file_child) for n in g.nodes] == before


def test_an_old_file_held_elsewhere_stays() -> None:
    g = graph()
    g.add(file_options("/raw2", "f2"))
    g.add(QDict({"driver": "raw", "node-name": "r2", "file": "rf"}))
    blockdev_reopen(g, [entry("raw", "r", "f2")])
    assert node(g, "rf").parents == [node(g, "r2")] and node(g, "r").filename == "/raw2"


def test_inline_options_reopen_the_inline_child() -> None:
    g = graph()
    sf = node(g, "sf")
    blockdev_reopen(g, [entry("qcow2", "s", file_options("/solo", "sf"))])
    blockdev_reopen(g, [entry("qcow2", "s", file_options("/solo", auto_read_only=True))])
    assert sf.auto_read_only and not sf.name_in_options
    with pytest.raises(BlockError, match=r"^Cannot change the option 'node-name'$"):  # no longer an option
        blockdev_reopen(g, [entry("qcow2", "s", file_options("/solo", "sf"))])
    with pytest.raises(BlockError, match=r"^Cannot change the option 'filename'$"):
        blockdev_reopen(g, [entry("qcow2", "s", file_options("/raw"))])
    with pytest.raises(BlockError, match=r"^Read-only block node 'sf' cannot support read-write users$"):
        blockdev_reopen(g, [entry("qcow2", "s", file_options("/solo", read_only=True))])
    blockdev_reopen(g, [entry("qcow2", "s", file_options("/solo"), read_only=True)])  # takes the parent's
    assert sf.read_only and node(g, "s").read_only


def test_a_node_named_twice_merges_its_entries() -> None:
    g = graph()
    s, sf = node(g, "s"), node(g, "sf")
    blockdev_reopen(g, [entry("qcow2", "s", "sf", read_only=True), entry("qcow2", "s", "sf")])
    assert s.read_only  # the later entry says nothing about read-only: the earlier one's stays
    blockdev_reopen(g, [entry("qcow2", "s", "nope"), entry("qcow2", "s", "sf", read_only=False)])
    assert not s.read_only
    blockdev_reopen(g, [QDict({"driver": "file", "node-name": "sf", "filename": "/solo"}),
                        entry("qcow2", "s", "sf", read_only=True)])  # fmt: skip
    assert sf.read_only  # named before its parent: it takes the parent's read-only
    blockdev_reopen(g, [entry("qcow2", "s", "sf", read_only=True),
                        QDict({"driver": "file", "node-name": "sf", "filename": "/solo"})])  # fmt: skip
    assert not sf.read_only  # named after: its own entry


def test_a_writable_export_of_a_raw_node_writes_through_it() -> None:
    g = graph()
    g.add(file_options("/raw2", "f2"))
    nbd_server_start(g, QDict({"addr": QDict({"type": "unix", "data": QDict({"path": "/sock"})})}))
    block_export_add(g, QDict({"type": "nbd", "id": "e", "node-name": "r", "writable": True}))
    message = r"^Read-only block node '{}' cannot support read-write users$"
    with pytest.raises(BlockError, match=message.format("r")):
        both = QDict({"driver": "file", "node-name": "rf", "filename": "/raw", "read-only": True})
        blockdev_reopen(g, [entry("raw", "r", "rf", read_only=True), both])
    with pytest.raises(BlockError, match=message.format("rf")):
        blockdev_reopen(g, [entry("raw", "r", file_options("/raw", read_only=True))])
    blockdev_reopen(g, [entry("raw", "r", "f2")])
    assert node(g, "r").file_child is node(g, "f2")


def test_what_is_not_pinned_abstains() -> None:
    g = graph()
    g.add(file_options("/raw2", "f2"))
    g.add(QDict({"driver": "qcow2", "node-name": "t", "file": file_options("/top", "tf")}))
    backing = node(g, "t").backing
    assert backing is not None
    with pytest.raises(NotModelled, match="with other changes"):
        blockdev_reopen(g, [entry("qcow2", "s", "f2", read_only=True)])
    with pytest.raises(NotModelled, match="not a free file node"):  # a format node
        blockdev_reopen(g, [entry("qcow2", "s", "r")])
    with pytest.raises(NotModelled, match="backing chain"):  # its json: filename is not pinned
        blockdev_reopen(g, [entry("qcow2", "t", "f2", backing=backing.name)])
    g.add(file_options("/solo2", "qf"))
    g.add(QDict({"driver": "qcow2", "node-name": "q", "file": "qf"}))
    with pytest.raises(NotModelled, match="shared with a writer"):  # image locking, permissions
        blockdev_reopen(g, [entry("raw", "r", "qf")])
    with pytest.raises(NotModelled, match="child opened elsewhere"):  # QEMU: 'file.*' options
        blockdev_reopen(g, [entry("qcow2", "q", file_options("/solo2"))])


def test_two_changed_options_name_the_first_in_bucket_order() -> None:
    g = graph()
    with pytest.raises(BlockError, match=r"^Cannot change the option 'node-name'$"):  # before 'filename'
        blockdev_reopen(g, [entry("qcow2", "s", file_options("/raw", "other"))])
    with pytest.raises(BlockError, match=r"^Cannot change the option 'driver'$"):  # before 'filename'
        blockdev_reopen(g, [QDict({"driver": "raw", "node-name": "sf", "filename": "/raw"})])


def test_an_inline_child_is_opened_with_its_new_options() -> None:
    g = BlockGraph(FakeStorage({"/ro": (False, None), "/rosolo": (False, SOLO)}))
    g.add(
        QDict({"driver": "qcow2", "node-name": "q", "read-only": True, "file": file_options("/rosolo", "qf")})
    )
    for name in ("qf", None):  # named or not, the child goes read-write with its parent
        with pytest.raises(BlockError, match=r"^Could not open '/rosolo': Read-only file system$"):
            options = file_options("/rosolo", name)
            blockdev_reopen(g, [entry("qcow2", "q", options, read_only=False, backing=qnull)])
    g.add(QDict({"driver": "raw", "node-name": "w", "file": file_options("/ro", "wf", auto_read_only=True)}))
    blockdev_reopen(g, [entry("raw", "w", file_options("/ro", "wf", auto_read_only=True))])  # no writer
    with pytest.raises(BlockError, match=r"^Could not open '/ro'"):  # left out: auto-read-only goes off
        blockdev_reopen(g, [entry("raw", "w", file_options("/ro", "wf"))])


def test_a_child_entry_after_its_parent_keeps_its_explicit_auto_read_only() -> None:
    g = BlockGraph(FakeStorage({"/ro": (False, None), "/ro2": (False, None)}))
    g.add(QDict({"driver": "raw", "node-name": "w", "file": file_options("/ro", "wf", auto_read_only=True)}))
    child = QDict({"driver": "file", "node-name": "wf", "filename": "/ro", "read-only": False})
    off = QDict({**dict(child.items()), "auto-read-only": False})
    with pytest.raises(BlockError, match=r"^Could not open '/ro'"):
        blockdev_reopen(g, [entry("raw", "w", "wf"), off])
    for entries in ([entry("raw", "w", "wf"), child], [child, entry("raw", "w", "wf")]):
        blockdev_reopen(g, entries)
        assert node(g, "wf").auto_read_only and not node(g, "wf").read_only
    # named first, its entry alone became its explicit options: auto-read-only is no longer one
    with pytest.raises(BlockError, match=r"^Could not open '/ro'"):
        blockdev_reopen(g, [entry("raw", "w", "wf"), child])
    # a child that inherited auto-read-only: the parent's pass fills it in only when the child comes first
    g.add(
        QDict({"driver": "raw", "node-name": "v", "auto-read-only": True, "file": file_options("/ro2", "vf")})
    )
    mine = QDict({"driver": "file", "node-name": "vf", "filename": "/ro2", "read-only": False})
    blockdev_reopen(g, [mine, entry("raw", "v", "vf")])
    with pytest.raises(BlockError, match=r"^Could not open '/ro2'"):
        blockdev_reopen(g, [entry("raw", "v", "vf"), mine])


def test_a_dropped_node_name_cannot_come_back() -> None:
    g = graph()
    blockdev_reopen(g, [entry("qcow2", "s", file_options("/solo"))])
    own = QDict({"driver": "file", "node-name": "sf", "filename": "/solo"})
    for entries in ([own, entry("qcow2", "s", "sf")], [entry("qcow2", "s", "sf"), own]):
        with pytest.raises(BlockError, match=r"^Cannot change the option 'node-name'$"):
            blockdev_reopen(g, entries)
    blockdev_reopen(g, [entry("qcow2", "s", "sf", read_only=True)])  # naming it as the 'file' is fine
    assert node(g, "sf").read_only
