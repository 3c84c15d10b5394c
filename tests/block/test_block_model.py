"""The block model on fake storage: no binaries, no filesystem."""

from __future__ import annotations

import pytest

from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.names import well_formed
from reference.block.query import named_block_nodes, sectors_rounded
from reference.block.storage import FileFacts, ImageFacts
from reference.qobject.patterns import auto_node_name
from reference.qobject.values import QDict, qnull


class FakeStorage:
    """Files by path: (writable, image header or None)."""

    def __init__(self, files: dict[str, tuple[bool, ImageFacts | None]]) -> None:
        self.files = files

    def open_error(self, path: str, write: bool) -> str | None:
        if path not in self.files:
            return "No such file or directory"
        return "Read-only file system" if write and not self.files[path][0] else None

    def file(self, path: str) -> FileFacts:
        return FileFacts(size=1000, allocated=4096)

    def image(self, path: str) -> ImageFacts | None:
        return self.files[path][1]


QCOW2 = ImageFacts("qcow2", 1 << 20, 65536)


def graph() -> BlockGraph:
    return BlockGraph(
        FakeStorage({"/rw": (True, None), "/ro": (False, None), "/q": (False, QCOW2),
                     "/b": (True, ImageFacts("qcow2", 1, backing_file="/q"))})
    )  # fmt: skip


def add(g: BlockGraph, **opts: object) -> None:
    g.add(QDict({key.replace("_", "-"): value for key, value in opts.items()}))  # type: ignore[misc]


def test_node_names() -> None:
    assert well_formed("a.b-c_d") and not well_formed("9a") and not well_formed("é")
    g = graph()
    with pytest.raises(BlockError, match="'node-name' must be specified"):
        g.add(QDict({"driver": "file", "filename": "/rw"}))
    add(g, driver="file", node_name="f", filename="/rw")
    with pytest.raises(BlockError, match="Duplicate nodes with node-name='f'"):
        add(g, driver="file", node_name="f", filename="/nope")
    with pytest.raises(BlockError, match="Node name too long"):
        add(g, driver="file", node_name="a" * 32, filename="/rw")


def test_inline_child_inherits_and_failures_roll_back() -> None:
    g = graph()
    add(g, driver="raw", node_name="r", read_only=True, file=QDict({"driver": "file", "filename": "/ro"}))
    assert [n.read_only for n in g.nodes] == [True, True]
    with pytest.raises(BlockError, match="Could not open '/q': Read-only file system"):
        add(
            g,
            driver="qcow2",
            node_name="q",
            auto_read_only=True,
            file=QDict({"driver": "file", "filename": "/q"}),
        )
    assert len(g.nodes) == 2
    info = named_block_nodes(g)[1]
    assert isinstance(info, QDict) and info.get("node-name") == auto_node_name(0)  # "#block0" and two digits


def test_unmodelled_input_abstains() -> None:
    g = graph()
    with pytest.raises(NotModelled):
        add(
            g, driver="qcow2", node_name="b", read_only=True, file=QDict({"driver": "file", "filename": "/b"})
        )
    with pytest.raises(NotModelled):
        add(g, driver="file", node_name="f", filename="/rw", aio="threads")
    assert g.nodes == []


def test_sector_rounding() -> None:
    assert sectors_rounded(196616) == 197120 and sectors_rounded(1 << 20) == 1 << 20


def chain_graph() -> BlockGraph:
    base = ImageFacts("qcow2", 1 << 20, 65536)
    mid = ImageFacts(
        "qcow2", 1 << 20, 65536, backing_file="b.img", backing_format="qcow2", full_backing_file="/b"
    )
    return BlockGraph(FakeStorage({"/b": (False, base), "/m": (True, mid)}))


def test_backing_from_header_is_read_only_and_named_after_its_parent() -> None:
    g = chain_graph()
    add(g, driver="qcow2", node_name="m", file=QDict({"driver": "file", "filename": "/m"}))
    assert [(n.driver, n.read_only, n.auto_named) for n in g.nodes] == [
        ("file", False, True), ("qcow2", False, False), ("file", True, True), ("qcow2", True, True)
    ]  # fmt: skip
    info = named_block_nodes(g)[2]
    assert (
        isinstance(info, QDict) and info.get("backing_file_depth") == 1 and info.get("backing_file") == "/b"
    )


def test_backing_null_makes_a_json_filename() -> None:
    g = chain_graph()
    add(g, driver="qcow2", node_name="m", backing=qnull, file=QDict({"driver": "file", "filename": "/m"}))
    info = named_block_nodes(g)[0]
    assert isinstance(info, QDict) and str(info.get("file")).startswith('json:{"backing": null')


def test_reopen_and_commit_on_read_only_storage() -> None:
    from reference.block.jobs import block_commit
    from reference.block.reopen import blockdev_reopen

    g = chain_graph()
    add(g, driver="file", node_name="bf", filename="/b", auto_read_only=True)
    add(g, driver="qcow2", node_name="b", read_only=True, file="bf")
    add(g, driver="qcow2", node_name="t", backing="b", file=QDict({"driver": "file", "filename": "/m"}))
    with pytest.raises(BlockError, match="Could not open '/b': Read-only file system"):
        blockdev_reopen(g, [QDict({"driver": "qcow2", "node-name": "b", "file": "bf", "read-only": False})])
    with pytest.raises(BlockError, match="Cannot change the option 'driver'"):
        blockdev_reopen(g, [QDict({"driver": "raw", "node-name": "b", "file": "bf"})])
    with pytest.raises(NotModelled):
        blockdev_reopen(g, [])
    with pytest.raises(NotModelled):  # an active commit
        block_commit(g, QDict({"job-id": "j", "device": "t", "top-node": "t", "base-node": "b"}))
    assert g.take_events() == []
