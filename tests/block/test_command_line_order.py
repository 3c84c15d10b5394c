"""The order qemu-system applies its block options in, without binaries (conformance/block/scenarios.py).

Every -blockdev before any -drive: pinned on qemu-system 7.2, 10.0, 11.1 and 5.2 by the
command-line-order-* scenarios in fixtures/block/scenarios.json.
"""

from __future__ import annotations

import pytest

from block.test_drive_oracle import _chain_graph
from conformance.block.scenarios import OptionError, apply_options, creation_order
from reference.block.query import named_block_nodes

DRIVE = ("-drive", "if=none,id=d0,file=/a,backing.node-name=int,backing.backing=base")
BLOCKDEV = ("-blockdev", "qcow2,node-name=base,read-only=on,file.driver=file,file.filename=/b")


def test_machine_options_then_blockdevs_then_drives_each_in_written_order() -> None:
    options = [
        ("-drive", "d1"), ("-blockdev", "b1"), ("-machine", "pc"), ("-drive", "d2"),
        ("-blockdev", "b2"), ("-incoming", "defer"),
    ]  # fmt: skip
    assert creation_order(options) == [
        ("-machine", "pc"), ("-incoming", "defer"), ("-blockdev", "b1"), ("-blockdev", "b2"),
        ("-drive", "d1"), ("-drive", "d2"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "options", [[DRIVE, BLOCKDEV], [BLOCKDEV, DRIVE]], ids=["drive-first", "blockdev-first"]
)
def test_a_drive_may_name_a_blockdev_written_after_it(options: list[tuple[str, str]]) -> None:
    graph = _chain_graph()
    apply_options(graph, options)
    listed = [(info.get("drv"), info.get("file")) for info in named_block_nodes(graph, flat=True)]  # type: ignore[union-attr]
    # Newest first: the -drive's nodes (int over its file, then the root over its file), then base's.
    assert listed == [
        ("qcow2", "/i"), ("file", "/i"), ("qcow2", "/a"), ("file", "/a"), ("qcow2", "/b"), ("file", "/b"),
    ]  # fmt: skip
    base = graph.find("base")
    assert base is not None and graph.find("int").backing is base  # type: ignore[union-attr]


def test_a_blockdev_error_wins_over_an_earlier_drive_error() -> None:
    graph = _chain_graph()
    clash = ("-drive", "if=none,file=/i,format=qcow2,node-name=base")
    again = ("-blockdev", "raw,node-name=base,file.driver=file,file.filename=/raw")
    with pytest.raises(OptionError) as err:
        apply_options(graph, [clash, BLOCKDEV, again])
    assert err.value.option == "-blockdev" and err.value.value == again[1]
    assert err.value.desc == "Duplicate nodes with node-name='base'"
    with pytest.raises(OptionError) as err:
        apply_options(_chain_graph(), [clash, BLOCKDEV])
    assert err.value.option == "-drive" and err.value.desc == "Duplicate nodes with node-name='base'"
