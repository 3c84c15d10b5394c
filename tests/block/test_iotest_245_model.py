"""The oracle fixes iotest 245's literal transcription needed, offline.

Every expectation was seen on qsd and qemu-system 7.2 first: the transcription runs on the
binaries as fixtures/block/cases/iotest-245.json (tests/block/test_block_cases.py). Here the
storage is fake: three 1 MiB qcow2 images as in tests/block/test_stream_model.py, and the
jobs model's qcow2 top whose header names its base.
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import FakeStorage, events, node, run
from block.test_hmp_qemu_io import drives
from block.test_stream_model import completed, failure, graph, hd, three
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.hmp_qemu_io import qemu_io
from reference.block.objects import object_add
from reference.qobject.values import QDict


def header_chain() -> BlockGraph:
    """'top' whose backing node QEMU opens from the header and names itself."""
    g = BlockGraph(FakeStorage())
    run(g, "blockdev-add", driver="qcow2", node_name="top",
        file={"driver": "file", "node-name": "topf", "filename": "/top"})  # fmt: skip
    return g


TOP_FILE = {"driver": "file", "node-name": "topf", "filename": "/top"}
UNNAMED_BASE = {"driver": "qcow2", "file": {"driver": "file", "filename": "/base"}}


def top(**extra: Any) -> dict[str, Any]:
    return {"driver": "qcow2", "node-name": "top", "file": TOP_FILE, **extra}


def test_options_for_a_self_named_backing_child_reopen_it() -> None:
    """test_incorrect_parameters_backing_file: the child is given inline without a name."""
    g = header_chain()
    base = node(g, "top").backing
    assert base is not None and base.auto_named
    run(g, "blockdev-reopen", options=[top(backing=UNNAMED_BASE)])
    assert node(g, "top").backing is base and base.read_only
    assert failure(g, "blockdev-reopen", options=[top(backing={**UNNAMED_BASE, "node-name": "newname"})]) == (
        "Cannot change the option 'node-name'"
    )
    assert failure(g, "blockdev-reopen", options=[top(backing={**UNNAMED_BASE, "driver": "raw"})]) == (
        "Cannot change the option 'driver'"
    )
    with pytest.raises(NotModelled):  # another file for the child
        run(
            g,
            "blockdev-reopen",
            options=[top(backing={**UNNAMED_BASE, "file": {"driver": "file", "filename": "/solo"}})],
        )


def test_an_inline_child_may_not_change_driver_or_aio() -> None:
    """test_incorrect_parameters_single_file: file.driver and file.aio are options QEMU keeps."""
    g = graph(hd(0))
    for change, name in (({"driver": "host_device"}, "driver"), ({"aio": "native"}, "aio")):
        file = {"driver": "file", "node-name": "hd0-file", "filename": "/hd0", **change}
        assert (
            failure(g, "blockdev-reopen", options=[hd(0, file=file)]) == f"Cannot change the option '{name}'"
        )


def test_names_left_out_below_the_reopened_node() -> None:
    """test_reopen: the children's node names are optional; cache modes reach the inline ones."""
    g = graph(hd(1, backing=hd(0)))
    unnamed = {"driver": "qcow2", "file": {"driver": "file", "filename": "/hd1"},
               "backing": {"driver": "qcow2", "file": {"driver": "file", "filename": "/hd0"}}}  # fmt: skip
    run(g, "blockdev-reopen", options=[{**unnamed, "node-name": "hd1", "cache": {"direct": True}}])
    for name in ("hd1", "hd1-file", "hd0", "hd0-file"):
        assert node(g, name).cache_direct, name
    run(g, "blockdev-reopen", options=[{**unnamed, "node-name": "hd1"}])
    assert not any(node(g, name).cache_direct for name in ("hd1", "hd1-file", "hd0", "hd0-file"))


def test_backing_options_for_a_child_the_monitor_opened_are_left_over() -> None:
    """test_reopen: hd0 added on its own and linked as hd1's backing cannot take backing.*."""
    g = graph(hd(1, backing=None))
    run(g, "blockdev-add", **hd(0))
    run(g, "blockdev-reopen", options=[hd(1, backing="hd0")])
    inline = {"driver": "qcow2", "file": {"driver": "file", "filename": "/hd0"}}
    assert failure(g, "blockdev-reopen", options=[hd(1, backing=inline)]) == (
        "Cannot change the option 'backing.driver'"
    )


def test_a_parent_may_drop_a_streams_named_filter() -> None:
    """test_block_stream_4: filter-node-name 'cor' is not implicit; the job keeps hd1 till it ends."""
    g = graph(three())
    run(g, "block-stream", job_id="stream0", device="hd1", filter_node_name="cor", auto_finalize=False)
    events(g)
    assert failure(g, "blockdev-reopen", options=[three()]) == (
        "Cannot change the option 'backing.backing.file.node-name'"
    )
    run(g, "blockdev-reopen", options=[hd(0, backing=None)])
    assert node(g, "hd0").backing is None and g.find("hd1") is not None
    run(g, "job-finalize", id="stream0")
    assert events(g) == completed("stream0")
    assert {n.name for n in g.nodes} == {"hd0", "hd0-file"}


def test_a_named_filter_of_a_root_shows_its_name() -> None:
    g = graph(three())
    run(g, "block-stream", job_id="s", device="hd0", base_node="hd2", filter_node_name="cor",
        auto_finalize=False)  # fmt: skip
    assert run(g, "query-named-block-nodes", flat=True)[0]["node-name"] == "cor"
    for taken in ("hd1", "0bad"):
        g = graph(three())
        with pytest.raises(NotModelled):
            run(g, "block-stream", job_id="s", device="hd0", filter_node_name=taken, auto_finalize=False)


def test_two_nodes_trade_their_files_in_one_queue() -> None:
    """test_swap_files: alone each new link conflicts; together they are accepted."""
    g = graph(hd(0))
    run(g, "blockdev-add", **hd(2))
    assert failure(g, "blockdev-reopen", options=[hd(0, file="hd2-file")]).startswith(
        "Permission conflict on node 'hd2-file': permissions 'write, resize' are both required by node 'hd2'"
    )
    run(g, "blockdev-reopen", options=[hd(0, file="hd2-file"), hd(2, file="hd0-file")])
    hd0, hd2 = node(g, "hd0"), node(g, "hd2")
    assert hd0.file_child is node(g, "hd2-file") and hd2.file_child is node(g, "hd0-file")
    assert hd0.filename == "/hd2" and node(g, "hd2-file").parents == [hd0]


def test_a_node_used_as_backing_taking_a_shared_file_conflicts() -> None:
    """test_io_with_graph_changes: hd2, backing of hd0, reopened over hd0's file."""
    g = graph(hd(0, backing=None))
    run(g, "blockdev-add", **hd(2, backing=None))
    run(g, "blockdev-reopen", options=[hd(0, backing="hd2")])
    assert failure(g, "blockdev-reopen", options=[hd(2, file="hd0-file", backing=None)]) == (
        "Permission conflict on node 'hd0-file': permissions 'write, resize' are both required by node "
        "'hd0' (uses node 'hd0-file' as 'file' child) and unshared by node 'hd2' (uses node 'hd0-file' "
        "as 'file' child)."
    )


def test_a_throttle_filter_goes_in_and_out_below_a_format_node() -> None:
    """test_insert_throttle_filter."""
    g = graph(hd(0))
    object_add(
        g, QDict({"qom-type": "throttle-group", "id": "group0", "limits": QDict({"iops-total": 1000})})
    )
    run(g, "blockdev-add", driver="throttle", node_name="throttle0", throttle_group="group0", file="hd0-file")
    hd0, throttle, file = node(g, "hd0"), node(g, "throttle0"), node(g, "hd0-file")
    run(g, "blockdev-reopen", options=[hd(0, file="throttle0")])
    assert hd0.file_child is throttle and throttle.parents == [hd0] and file.parents == [throttle]
    run(g, "blockdev-reopen", options=[hd(0, file="hd0-file")])
    assert hd0.file_child is file and throttle.parents == [] and set(file.parents) == {hd0, throttle}


def test_a_zero_write_that_may_unmap_reports_as_a_zero_write() -> None:
    """test_insert_compress_filter's 'write -z -u': the same report (and zeros) as 'write -z'."""
    reports = []
    for flags in ("-z", "-z -u"):
        g = drives()
        assert qemu_io(g, f'none1 "write {flags} 0 64k"') == ""
        reports.append([str(line) for line in g.take_output() or []])
    assert reports[0] == reports[1] and reports[0][0] == "wrote 65536/65536 bytes at offset 0"
    with pytest.raises(NotModelled):  # qemu-io: "-u requires -z"
        qemu_io(drives(), 'none1 "write -u 0 64k"')
