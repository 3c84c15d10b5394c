"""The oracle's parts for iotest 249 without binaries: HMP qemu-io writes on a BlockBackend, and
block-commit's device by BlockBackend name, default base and filter-node-name checks.

The same facts run against qemu-system-x86_64 7.2 in tests/block/test_iotest_scenarios.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import FakeStorage, error, events, node, run, three_layers
from reference.block.drive import open_drive, parse_drive
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.hmp_qemu_io import qemu_io

CREATED_NULL = [("JOB_STATUS_CHANGE", "created"), ("JOB_STATUS_CHANGE", "null")]


def drives() -> BlockGraph:
    """none0: /base read-only; none1: /solo writable (both qcow2, 1 MiB)."""
    g = BlockGraph(FakeStorage())
    open_drive(g, parse_drive("if=none,file=/base,format=qcow2,read-only=on"))
    open_drive(g, parse_drive("if=none,file=/solo,format=qcow2", 1))
    return g


def test_a_write_to_a_read_only_drive_is_refused_and_changes_nothing() -> None:
    g = drives()
    for command in ('none0 "aio_write 0 2k"', 'none0 "write 0 2048"'):
        assert qemu_io(g, command) == "Block node is read-only\r\n"
    assert not any(n.stale for n in g.nodes)


def test_a_write_to_a_writable_drive_answers_nothing_and_marks_the_image_changed() -> None:
    g = drives()
    assert qemu_io(g, 'none1 "write 0 2k"') == ""
    assert [str(line) for line in g.take_output() or []] == [
        "wrote 2048/2048 bytes at offset 0",
        "2 KiB, 1 ops; <elapsed> (<rate>/sec and <rate> ops/sec)",
    ]
    root = next(n for n in g.nodes if n.backend == "none1")
    assert root.written and root.file_child is not None and root.file_child.written
    assert not root.stale  # the data is the write model's: no job wrote it


@pytest.mark.parametrize(
    ("rest", "printed"),
    [('none1 "write 0 2M"', "write failed: Input/output error"),
     ('none1 "aio_write 1M 512"', "aio_write failed: Input/output error"),
     ('none1 "write -q 1 2k"', None)],
)  # fmt: skip
def test_past_the_end_and_quiet(rest: str, printed: str | None) -> None:
    g = drives()
    assert qemu_io(g, rest) == ""
    assert g.take_output() == ([printed] if printed else [])


def test_an_unknown_device() -> None:
    expected = "Error: Cannot find device='' nor node-name='nosuch'\r\n"
    assert qemu_io(drives(), 'nosuch "write 0 2k"') == expected


@pytest.mark.parametrize(
    "rest",
    ['none1 "read 0 2k"', 'none1 "write -z -P 5 0 2k"', 'none1 "write -s f 0 2k"', 'none1 "write 0"',
     '-d none1 "write 0 2k"', "none1", 'none1 "write 0 2x"', 'none1 "write 0 2k'],
)  # fmt: skip
def test_anything_else_abstains(rest: str) -> None:
    with pytest.raises(NotModelled):
        qemu_io(drives(), rest)


def test_a_node_name_under_a_qcow2_node_is_a_permission_conflict() -> None:
    g = BlockGraph(FakeStorage())
    run(
        g,
        "blockdev-add",
        driver="qcow2",
        node_name="q",
        file={"driver": "file", "filename": "/solo", "node-name": "f"},
    )
    assert qemu_io(g, 'f "write 0 2k"') == (  # q unshares write on f
        "Permission conflict on node 'f': permissions 'write' are both required by an unnamed block"
        " device (uses node 'f' as 'root' child) and unshared by node 'q' (uses node 'f' as 'file'"
        " child).\r\n"
    )
    assert qemu_io(g, 'q "write 0 2k"') == ""  # a temporary BlockBackend


def commit(g: BlockGraph, **extra: Any) -> None:
    run(g, "block-commit", job_id="j", device="over", top_node="top", base_node="b", **extra)


@pytest.mark.parametrize(
    ("name", "message"),
    [("1234", "Invalid node-name: '1234'"), ("top", "Duplicate nodes with node-name='top'")],
)
def test_filter_node_name_is_checked_after_the_job_is_created(name: str, message: str) -> None:
    g = three_layers()
    with pytest.raises(BlockError, match=message):
        commit(g, filter_node_name=name)
    assert events(g) == CREATED_NULL
    assert node(g, "over").backing is node(g, "top") and node(g, "b").read_only


def test_a_base_that_cannot_go_read_write_wins_over_a_bad_filter_name() -> None:
    g = three_layers()
    storage = g.storage
    assert isinstance(storage, FakeStorage)
    storage.files["/base"] = (False, storage.files["/base"][1])
    with pytest.raises(BlockError, match="Could not open '/base': Read-only file system"):
        commit(g, filter_node_name="1234")
    assert events(g) == CREATED_NULL


def test_a_good_filter_name_commits() -> None:
    g = three_layers()
    commit(g, filter_node_name="flt")
    assert node(g, "over").backing is node(g, "b") and g.find("flt") is None


def test_device_by_backend_name_and_the_default_base() -> None:
    g = three_layers()
    over = node(g, "over")
    over.backend = "none1"
    run(g, "block-commit", job_id="j", device="none1", top_node="top")
    assert [name for name, _ in events(g)][-1] == "JOB_STATUS_CHANGE"
    assert over.backing is node(g, "b")


def test_a_read_only_overlay_over_an_auto_read_only_writable_file_gets_its_header_rewritten() -> None:
    g = three_layers()
    over = node(g, "over")
    over.read_only = True  # as iotest 247's format-3; its file node keeps auto-read-only
    assert over.file_child is not None
    over.file_child.auto_read_only = True
    commit(g)
    assert over.backing is node(g, "b") and over.read_only
    over2 = three_layers()
    node(over2, "over").read_only = True  # its file is not auto-read-only: not modelled
    with pytest.raises(NotModelled):
        commit(over2)


def test_unknown_device_is_device_not_found() -> None:
    assert error(three_layers(), "block-commit", job_id="j", device="none9", top_node="top") == (
        "DeviceNotFound", "Device 'none9' not found",
    )  # fmt: skip
