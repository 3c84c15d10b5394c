"""reference/block/hmp_info_block.py without binaries: the text of HMP `info block [-n] [NAME]`.

The expected strings are the ones qemu-system-x86_64 7.2 printed for the same
graphs; the front-end table (tests/block/test_front_end_table.py) and
fixtures/block/cases/hmp-info-block.json check them on the binary.
"""

from __future__ import annotations

import pytest

from block.test_block_model import FakeStorage
from reference.block.drive import adopt_names, open_drive, parse_drive
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.hmp import human_monitor_command
from reference.block.storage import ImageFacts
from reference.qobject.values import QDict

BASE = ImageFacts("qcow2", 1 << 20, 65536)
TOP = ImageFacts("qcow2", 1 << 20, 65536, backing_file="base.qcow2", backing_format="qcow2",
                 full_backing_file="/d/base.qcow2")  # fmt: skip
CACHE = "    Cache mode:       writeback\r\n"


def _graph() -> BlockGraph:
    files = {"/d/r.img": (True, None), "/d/base.qcow2": (True, BASE), "/d/top.qcow2": (True, TOP)}
    return BlockGraph(FakeStorage(files))


def hmp(graph: BlockGraph, line: str) -> object:
    return human_monitor_command(graph, QDict({"command-line": line}))


def test_blockdev_file_node_read_only_is_232s_line() -> None:
    graph = _graph()
    graph.add(QDict({"driver": "file", "filename": "/d/r.img", "node-name": "node0", "read-only": True}))
    assert hmp(graph, "info block -n") == "node0: /d/r.img (file, read-only)\r\n" + CACHE
    assert hmp(graph, "info block") == ""  # no BlockBackend: nothing without -n


def test_writable_node_has_no_read_only_mark() -> None:
    graph = _graph()
    graph.add(QDict({"driver": "file", "filename": "/d/r.img", "node-name": "node0"}))
    assert hmp(graph, "info block -n") == "node0: /d/r.img (file)\r\n" + CACHE


def test_backing_chain_newest_first_with_chain_depth() -> None:
    graph = _graph()
    file = QDict({"driver": "file", "filename": "/d/top.qcow2", "node-name": "tf"})
    graph.add(QDict({"driver": "qcow2", "node-name": "top", "file": file}))
    graph.add(QDict({"driver": "null-co", "node-name": "nul"}))
    adopt_names(graph, {"#block1": "#block312", "#block2": "#block471"})
    assert hmp(graph, "info block -n") == (
        "nul: null-co:// (null-co)\r\n" + CACHE + "\r\n"
        "#block471: /d/base.qcow2 (qcow2, read-only)\r\n" + CACHE + "\r\n"
        "#block312: /d/base.qcow2 (file, read-only)\r\n" + CACHE + "\r\n"
        "top: /d/top.qcow2 (qcow2)\r\n" + CACHE
        + "    Backing file:     /d/base.qcow2 (chain depth: 1)\r\n"
        "\r\n"
        "tf: /d/top.qcow2 (file)\r\n" + CACHE
    )  # fmt: skip
    # A name filter keeps the blank line of an entry that is not first in the list.
    assert hmp(graph, "info block -n tf") == "\r\ntf: /d/top.qcow2 (file)\r\n" + CACHE
    assert hmp(graph, "info block -n nope") == ""


def test_drive_backend_line_names_the_device_and_its_node() -> None:
    graph = _graph()
    open_drive(graph, parse_drive("if=none,file=/d/r.img,format=raw,read-only=on"))
    with pytest.raises(NotModelled, match="made up"):  # QEMU's random names not told yet
        hmp(graph, "info block")
    adopt_names(graph, {"#block1": "#block019", "#block2": "#block175"})
    removable = "    Removable device: not locked, tray closed\r\n"
    assert hmp(graph, "info block") == "none0 (#block175): /d/r.img (raw, read-only)\r\n" + removable + CACHE
    assert hmp(graph, "info block none0") == hmp(graph, "info block")
    assert hmp(graph, "info block -n none0") == ""  # -n filters node names only
    nodes = str(hmp(graph, "info block -n"))
    assert nodes.startswith("#block175: /d/r.img (raw, read-only)\r\n" + CACHE + "\r\n#block019")


@pytest.mark.parametrize("line", ["info block -v", "info block -n -v", "info block -n -n", "info block -x",
                                  "info block -n a b", "info block -n #block123"])  # fmt: skip
def test_what_is_not_modelled_abstains(line: str) -> None:
    graph = _graph()
    graph.add(QDict({"driver": "file", "filename": "/d/r.img", "node-name": "node0"}))
    with pytest.raises(NotModelled):
        hmp(graph, line)
