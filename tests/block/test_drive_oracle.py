"""reference/block/drive.py without binaries: -drive and --blockdev options as nodes, and QEMU's error line.

The same facts run against qemu-system-x86_64 and qemu-storage-daemon 7.2 in
tests/block/test_front_end_table.py; here the translation itself is checked.
"""

from __future__ import annotations

import pytest

from block.test_block_model import FakeStorage
from reference.block.drive import (
    AUTO_NODE_NAME,
    adopt_names,
    command_line_error,
    keyval_options,
    open_blockdev,
    open_drive,
    parse_drive,
    split_options,
)
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict


def _graph() -> BlockGraph:
    return BlockGraph(FakeStorage({"/rw": (True, None), "/ro": (False, ImageFacts("qcow2", 1 << 20, 65536))}))


def test_drive_defaults_auto_read_only_on_and_names_the_backend() -> None:
    drive = parse_drive("if=none,file=/rw,format=raw")
    assert drive.backend == "none0"
    assert drive.options.get("auto-read-only") is True and drive.options.get("read-only") is False
    assert "node-name" not in drive.options
    child = drive.options.get("file")
    assert isinstance(child, QDict) and child.get("filename") == "/rw"
    assert parse_drive("if=none,id=d1,driver=file,filename=/rw,auto-read-only=off").backend == "d1"


def test_drive_nodes_are_named_by_qemu_and_inherit_the_flags() -> None:
    graph = _graph()
    root = open_drive(graph, parse_drive("if=none,file=/rw,format=raw,read-only=on"))
    assert root.auto_named and root.read_only
    assert root.file_child is not None and root.file_child.auto_named and root.file_child.read_only


def test_drive_on_read_only_storage_fails_like_qemu() -> None:
    # qcow2 over a file that cannot be written: auto-read-only cannot help a writable qcow2.
    graph = _graph()
    with pytest.raises(BlockError, match="Could not open '/ro': Read-only file system"):
        open_drive(graph, parse_drive("if=none,file=/ro,format=qcow2"))
    assert graph.nodes == []  # what the failed open created is gone


def test_blockdev_keyval_nests_dotted_keys_and_reads_booleans() -> None:
    opts = keyval_options("driver=raw,node-name=n0,file.driver=file,file.filename=/rw,read-only=on")
    child = opts.get("file")
    assert isinstance(child, QDict) and child.get("filename") == "/rw"
    assert opts.get("read-only") is True
    graph = _graph()
    open_blockdev(graph, "driver=raw,node-name=n0,file.driver=file,file.filename=/rw")
    assert [node.name for node in graph.nodes][-1] == "n0"


def test_error_line_names_the_program_and_the_option() -> None:
    line = command_line_error("/usr/bin/qemu-system-x86_64", "-drive", "if=none,file=/x", "Could not open")
    assert line == "qemu-system-x86_64: -drive if=none,file=/x: Could not open"


def test_option_splitting_and_what_is_not_modelled() -> None:
    assert split_options("file=a,,b,format=raw") == [("file", "a,b"), ("format", "raw")]
    with pytest.raises(NotModelled):
        parse_drive("if=ide,file=/rw,format=raw")
    with pytest.raises(NotModelled):
        open_drive(_graph(), parse_drive("if=none,file=/rw"))  # probing finds no qcow2 header
    with pytest.raises(NotModelled):  # the BlockBackend's write cache off
        parse_drive("if=none,file=/rw,format=raw,cache=directsync")
    with pytest.raises(NotModelled):
        parse_drive("if=none,file=/rw,format=raw,aio=threads")


def test_auto_node_name_rule() -> None:
    assert AUTO_NODE_NAME.fullmatch("#block075") and AUTO_NODE_NAME.fullmatch("#block1236")
    assert not AUTO_NODE_NAME.fullmatch("#block1") and not AUTO_NODE_NAME.fullmatch("n0")


def _chain_graph() -> BlockGraph:
    """iotest 249's images: /a's header names /i, whose header names /b (all qcow2)."""
    size = 1 << 20
    return BlockGraph(FakeStorage({
        "/b": (True, ImageFacts("qcow2", size, 65536)),
        "/i": (True, ImageFacts("qcow2", size, 65536, backing_file="/b", backing_format="qcow2",
                                full_backing_file="/b")),
        "/a": (True, ImageFacts("qcow2", size, 65536, backing_file="/i", backing_format="qcow2",
                                full_backing_file="/i")),
        "/raw": (True, None),
    }))  # fmt: skip


def test_drive_backing_options_name_the_headers_backing_and_link_an_existing_node() -> None:
    graph = _chain_graph()
    base = open_drive(graph, parse_drive("if=none,file=/b,node-name=base,read-only=on"))
    active = open_drive(graph, parse_drive("if=none,file=/a,backing.node-name=int,backing.backing=base", 1))
    middle = active.backing
    assert middle is not None and middle.name == "int" and not middle.auto_named
    assert middle.filename == "/i" and middle.read_only  # a backing node opens read-only
    assert middle.backing is base and base.backend == "none0" and active.backend == "none1"
    assert not active.read_only and active.driver == "qcow2"  # format probed from the header


def test_drive_probing_and_backing_options_abstain_outside_qcow2() -> None:
    graph = _chain_graph()
    with pytest.raises(NotModelled, match="probing"):
        open_drive(graph, parse_drive("if=none,file=/raw"))
    with pytest.raises(NotModelled, match="backing"):
        open_drive(graph, parse_drive("if=none,file=/b,format=qcow2,backing.node-name=x"))  # no backing in /b
    with pytest.raises(NotModelled, match="backing"):
        parse_drive("if=none,file=/raw,format=raw,backing.node-name=x")
    with pytest.raises(NotModelled, match=r"backing\.file"):
        parse_drive("if=none,file=/a,backing.file=x")
    assert graph.nodes == []


def test_adopted_names_carry_the_backing_blockers_along() -> None:
    graph = _chain_graph()
    open_drive(graph, parse_drive("if=none,file=/b,node-name=base,read-only=on"))
    active = open_drive(graph, parse_drive("if=none,file=/a,backing.node-name=int,backing.backing=base", 1))
    middle = active.backing
    assert middle is not None
    adopt_names(graph, {active.name: "#block123"})
    assert active.name == "#block123"
    assert middle.blockers == ["node is used as backing hd of '#block123'"]


def test_blockdev_implied_driver() -> None:
    opts = keyval_options("qcow2,node-name=f,file=file-0,read-only=on")
    assert opts.get("driver") == "qcow2" and opts.get("file") == "file-0" and opts.get("read-only") is True
