"""block-stream and blockdev-reopen under a waiting job in the block oracle, offline (iotest 245).

Every expectation was seen on qsd and qemu-system 7.2 first; the same
transcripts run on the binaries as fixtures/block/cases/stream-245.json and
reopen-245-jobs.json (tests/block/test_block_cases.py). Here the storage is
fake: three 1 MiB qcow2 images without a backing file in their headers,
chained as hd2 <- hd1 <- hd0 with inline options, as iotest 245 does.
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import CLUSTER, SIZE, FakeStorage, events, node, run
from reference.block.errors import BlockError, NotModelled
from reference.block.filenames import display_filename
from reference.block.graph import BlockGraph
from reference.block.storage import ImageFacts

DONE = [("JOB_STATUS_CHANGE", "created"), ("JOB_STATUS_CHANGE", "running"),
        ("JOB_STATUS_CHANGE", "waiting"), ("JOB_STATUS_CHANGE", "pending")]  # fmt: skip


class ThreeImages(FakeStorage):
    def __init__(self) -> None:
        super().__init__()
        for name in ("/hd0", "/hd1", "/hd2"):
            self.files[name] = (True, ImageFacts("qcow2", SIZE, CLUSTER))


def hd(i: int, **extra: Any) -> dict[str, Any]:
    file = {"driver": "file", "node-name": f"hd{i}-file", "filename": f"/hd{i}"}
    return {"driver": "qcow2", "node-name": f"hd{i}", "file": file, **extra}


def three() -> dict[str, Any]:
    return hd(0, backing=hd(1, backing=hd(2)))


def graph(options: dict[str, Any]) -> BlockGraph:
    g = BlockGraph(ThreeImages())
    run(g, "blockdev-add", **options)
    return g


def failure(g: BlockGraph, command: str, **args: Any) -> str:
    with pytest.raises(BlockError) as caught:
        run(g, command, **args)
    return caught.value.desc


def completed(job_id: str, length: int = SIZE) -> list[tuple[str, Any]]:
    data = {"type": "stream", "device": job_id, "len": length, "offset": length, "speed": 0}
    return [("BLOCK_JOB_COMPLETED", data), ("JOB_STATUS_CHANGE", "concluded"), ("JOB_STATUS_CHANGE", "null")]


def test_stream_to_the_bottom_drops_the_layer_and_the_header_names_nothing() -> None:
    old = hd(0, backing=hd(1, backing=None))
    g = graph(old)
    run(g, "block-stream", job_id="stream0", device="hd0")
    assert events(g) == DONE + completed("stream0")
    assert g.find("hd1") is None and g.find("hd1-file") is None and not g.jobs
    hd0 = node(g, "hd0")
    assert hd0.backing is None and display_filename(hd0) == "/hd0"
    # the old options still carry 'backing': left over, the first in QEMU's order named
    assert failure(g, "blockdev-reopen", options=[old]) == "Cannot change the option 'backing.driver'"
    run(g, "blockdev-reopen", options=[hd(0)])
    run(g, "blockdev-reopen", options=[hd(0, backing=None)])


def test_stream_to_a_base_links_the_base() -> None:
    g = graph(three())
    run(g, "block-stream", job_id="stream0", device="hd0", base_node="hd2")
    assert events(g) == DONE + completed("stream0")
    hd0, hd2 = node(g, "hd0"), node(g, "hd2")
    assert g.find("hd1") is None and hd0.backing is hd2 and hd2.parents == [hd0]
    assert display_filename(hd0) == "/hd0"  # the header names hd2's file: nothing overridden
    # options meant for hd1 go to hd2, which has no backing child
    assert failure(g, "blockdev-reopen", options=[three()]) == "Cannot change the option 'backing.driver'"
    run(g, "blockdev-reopen", options=[hd(0, backing="hd2")])
    assert failure(g, "blockdev-reopen", options=[hd(0)]) == "backing is missing for 'hd0'"
    assert (
        failure(g, "blockdev-del", node_name="hd2")
        == "Node 'hd2' is busy: node is used as backing hd of 'hd0'"
    )
    run(g, "blockdev-del", node_name="hd0")
    assert g.nodes == []


def test_stream_arguments_are_checked_before_the_job_exists() -> None:
    g = graph(hd(0, backing=hd(1, backing=None)))
    run(g, "blockdev-add", **hd(2))
    assert failure(g, "block-stream", job_id="s", device="nosuch") == (
        "Cannot find device='nosuch' nor node-name='nosuch'"
    )
    assert failure(g, "block-stream", job_id="s", device="hd0", base_node="nosuch") == (
        "Cannot find device='' nor node-name='nosuch'"
    )
    for base in ("hd2", "hd0"):
        assert failure(g, "block-stream", job_id="s", device="hd0", base_node=base) == (
            f"Node '{base}' is not a backing image of 'hd0'"
        )
    assert failure(g, "block-stream", device="hd0") == "Invalid job ID ''"
    assert events(g) == []
    run(g, "block-stream", job_id="s", device="hd2")  # nothing below: nothing to copy
    assert events(g) == DONE + completed("s", 0)
    with pytest.raises(NotModelled):
        run(g, "block-stream", job_id="s", device="hd0", speed=1)


def test_auto_dismiss_false_waits_concluded() -> None:
    g = graph(hd(0, backing=hd(1, backing=None)))
    run(g, "block-stream", job_id="s", device="hd0", auto_dismiss=False)
    assert events(g) == DONE + completed("s")[:2]
    assert [job["type"] for job in run(g, "query-block-jobs")] == ["stream"]
    assert g.find("hd1") is None  # the graph changed when the job finalized
    run(g, "job-dismiss", id="s")
    assert events(g) == [("JOB_STATUS_CHANGE", "null")] and not g.jobs


def test_a_waiting_stream_freezes_the_links_above_its_base() -> None:
    """iotest 245 test_block_stream_3: device hd0, base hd2, auto-finalize false."""
    g = graph(three())
    run(g, "block-stream", job_id="stream0", device="hd0", base_node="hd2", auto_finalize=False)
    assert events(g)[-1] == ("BLOCK_JOB_PENDING", {"type": "stream", "id": "stream0"})
    [info] = run(g, "query-block-jobs")
    assert (info["type"], info["status"], info["offset"], info["auto-finalize"]) == (
        "stream",
        "pending",
        SIZE,
        False,
    )
    frozen = "Cannot change frozen 'backing' link from 'hd0' to 'hd1'"
    assert failure(g, "blockdev-reopen", options=[hd(0, backing=None)]) == frozen
    assert failure(g, "blockdev-reopen", options=[hd(0, backing="hd2")]) == frozen
    run(g, "blockdev-reopen", options=[hd(0, backing="hd1")])
    assert events(g) == []  # a waiting job is not paused by the drain
    busy = "Node '{}' is busy: block device is in use by block job: stream"
    for name in ("hd0", "hd1"):  # the device and the layer it copied carry the job's op blocker
        assert failure(g, "blockdev-del", node_name=name) == busy.format(name)
    assert (
        failure(g, "blockdev-del", node_name="hd2")
        == "Node 'hd2' is busy: node is used as backing hd of 'hd1'"
    )
    assert failure(g, "blockdev-del", node_name="hd0-file") == "Node hd0-file is not owned by the monitor"
    with pytest.raises(NotModelled):
        run(g, "blockdev-reopen", options=[hd(0, backing="hd1"), hd(2)])
    run(g, "job-finalize", id="stream0")
    assert events(g) == completed("stream0")
    assert node(g, "hd0").backing is node(g, "hd2") and g.find("hd1") is None


def test_a_waiting_stream_of_a_middle_layer_hides_behind_its_filter() -> None:
    """iotest 245 test_block_stream_4: device hd1 (under hd0), no base, auto-finalize false."""
    g = graph(three())
    run(g, "block-stream", job_id="stream0", device="hd1", auto_finalize=False)
    events(g)
    # hd0's backing child is the copy-on-read filter: its inline options are all left over
    assert failure(g, "blockdev-reopen", options=[three()]) == (
        "Cannot change the option 'backing.backing.file.node-name'"
    )
    assert failure(g, "blockdev-reopen", options=[hd(1, backing="hd2", **{"read-only": True})]) == (
        "Read-only block node 'hd1' cannot support read-write users"
    )
    assert failure(g, "blockdev-reopen", options=[hd(1, backing=None)]) == (
        "Cannot change frozen 'backing' link from 'hd1' to 'hd2'"
    )
    run(g, "blockdev-reopen", options=[hd(0, backing="hd1")])
    for other in (None, "hd2"):
        assert failure(g, "blockdev-reopen", options=[hd(0, backing=other)]) == (
            "Cannot replace implicit backing child of hd0"
        )
    for name in ("hd1", "hd2"):  # without a base the bottom layer carries the blocker too
        assert failure(g, "blockdev-del", node_name=name) == (
            f"Node '{name}' is busy: block device is in use by block job: stream"
        )
    with pytest.raises(NotModelled):  # hd0 may go: its backing child is the job's filter
        run(g, "blockdev-del", node_name="hd0")
    run(g, "job-finalize", id="stream0")
    assert events(g) == completed("stream0")
    hd0, hd1 = node(g, "hd0"), node(g, "hd1")
    assert hd1.blockers == ["node is used as backing hd of 'hd0'"]
    assert g.find("hd2") is None and hd1.backing is None and hd0.backing is hd1 and hd1.read_only


def test_a_waiting_commit_hides_its_top_behind_its_filter() -> None:
    """iotest 245 test_block_commit_2: hd1 into hd2 (device hd0), auto-finalize false."""
    g = graph(three())
    run(g, "block-commit", job_id="commit0", device="hd0", top_node="hd1", auto_finalize=False)
    assert events(g)[-1] == ("BLOCK_JOB_PENDING", {"type": "commit", "id": "commit0"})
    assert failure(g, "blockdev-reopen", options=[hd(0, backing=hd(1, backing=None))]) == (
        "Cannot change the option 'backing.driver'"
    )
    assert failure(g, "blockdev-reopen", options=[hd(0, backing=None)]) == (
        "Cannot replace implicit backing child of hd0"
    )
    run(g, "blockdev-reopen", options=[hd(0, backing="hd1")])
    assert failure(g, "blockdev-reopen", options=[hd(1, backing=None)]) == (
        "Cannot change frozen 'backing' link from 'hd1' to 'hd2'"
    )
    run(g, "job-finalize", id="commit0")
    hd0, hd2 = node(g, "hd0"), node(g, "hd2")
    assert g.find("hd1") is None and hd0.backing is hd2 and not hd0.read_only and hd2.read_only


class Allocated(ThreeImages):
    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        return [(0, CLUSTER)] if path in ("/hd0", "/hd1") else []


def test_a_ready_active_commit_is_paused_by_each_reopen_and_froze_its_chain() -> None:
    """iotest 245 test_block_commit_1: hd0 into hd2, the job waiting in "ready"."""
    g = BlockGraph(Allocated())
    run(g, "blockdev-add", **three())
    run(g, "block-commit", job_id="commit0", device="hd0")
    assert events(g)[-1][0] == "BLOCK_JOB_READY"
    drained = [("JOB_STATUS_CHANGE", "standby"), ("JOB_STATUS_CHANGE", "ready")]
    for entry, link in ((hd(1, backing=None), ("hd1", "hd2")), (hd(0, backing=None), ("hd0", "hd1"))):
        assert failure(g, "blockdev-reopen", options=[entry]) == (
            f"Cannot change frozen 'backing' link from '{link[0]}' to '{link[1]}'"
        )
        assert events(g) == drained
    run(g, "blockdev-reopen", options=[hd(0, backing="hd1")])
    assert [when for _event, when in g.take_timed_events()] == ["before", "before"]
    assert (
        failure(g, "blockdev-reopen", options=[hd(9, backing="hd1")])
        == "Failed to find node with node-name='hd9'"
    )
    assert events(g) == []  # the lookup fails before the drain
    with pytest.raises(NotModelled):  # the mirror's own permissions on the chain
        run(g, "blockdev-reopen", options=[hd(0, backing="hd1", **{"read-only": True})])
    run(g, "block-job-complete", device="commit0")
    assert events(g)[-1] == ("JOB_STATUS_CHANGE", "null")


def test_inline_options_for_the_backing_child_change_its_own_link() -> None:
    """iotest 245's nested 'backing' options, no job: the child is reopened in the same queue."""
    g = graph(three())
    without = hd(0, backing=hd(1))
    assert failure(g, "blockdev-reopen", options=[without]) == "backing is missing for 'hd1'"
    run(g, "blockdev-reopen", options=[hd(0, backing=hd(1, backing="hd2"))])
    run(g, "blockdev-reopen", options=[hd(0, backing={**hd(1, backing="hd2"), "file": "hd1-file"})])
    run(g, "blockdev-reopen", options=[hd(0, backing=hd(1, backing=None))])
    hd0, hd1 = node(g, "hd0"), node(g, "hd1")
    assert g.find("hd2") is None and hd1.backing is None and hd1.read_only and hd0.backing is hd1
    assert display_filename(hd0).startswith("json:") and display_filename(hd1) == "/hd1"
    run(g, "blockdev-reopen", options=[without])  # nothing below hd1 now
    with pytest.raises(NotModelled):  # a new name for the child's file
        run(g, "blockdev-reopen", options=[hd(0, backing={**hd(1), "file": "hd0-file"})])


def test_inline_options_meet_a_waiting_jobs_frozen_links() -> None:
    g = graph(three())
    run(g, "block-stream", job_id="stream0", device="hd0", base_node="hd2", auto_finalize=False)
    events(g)
    run(g, "blockdev-reopen", options=[hd(0, backing=hd(1, backing=None))])  # below the base: free
    assert g.find("hd2") is None
    run(g, "job-finalize", id="stream0")
    assert node(g, "hd0").backing is None and g.find("hd1") is None  # the base went: nothing below
    g = BlockGraph(Allocated())
    run(g, "blockdev-add", **three())
    run(g, "block-commit", job_id="commit0", device="hd0")
    events(g)
    assert failure(g, "blockdev-reopen", options=[hd(0, backing=hd(1, backing=None))]) == (
        "Cannot change frozen 'backing' link from 'hd1' to 'hd2'"
    )


def test_a_waiting_stream_of_a_root_shows_its_filter() -> None:
    g = graph(three())
    run(g, "block-stream", job_id="stream0", device="hd0", base_node="hd2", auto_finalize=False)
    shown = run(g, "query-named-block-nodes", flat=True)
    cor, hd0 = shown[0], next(info for info in shown if info["node-name"] == "hd0")
    assert (cor["drv"], cor["ro"], cor["image"]["format"]) == ("copy-on-read", False, "copy-on-read")
    assert cor["file"] == hd0["file"] and hd0["file"].startswith("json:") and "backing_file" not in cor
    run(g, "job-finalize", id="stream0")
    assert [info["drv"] for info in run(g, "query-named-block-nodes", flat=True)].count("copy-on-read") == 0
    g = graph(three())  # under a parent the filter is not shown: the query abstains
    run(g, "block-stream", job_id="stream0", device="hd1", auto_finalize=False)
    with pytest.raises(NotModelled):
        run(g, "query-named-block-nodes", flat=True)


def test_streaming_nothing_and_a_middle_layer() -> None:
    g = graph(three())
    run(g, "block-stream", job_id="s", device="hd0", base_node="hd1")  # nothing between
    assert events(g) == DONE + completed("s", 0)
    assert [n.name for n in g.nodes if not n.name.endswith("file")] == ["hd0", "hd1", "hd2"]
    run(g, "block-stream", job_id="s", device="hd1")
    assert events(g) == DONE + completed("s")
    hd0, hd1 = node(g, "hd0"), node(g, "hd1")
    assert g.find("hd2") is None and hd1.backing is None and hd1.read_only and hd0.backing is hd1
    assert display_filename(hd1) == "/hd1" and display_filename(hd0).startswith("json:")


def test_stream_argument_pairs_ids_speeds_and_bottoms() -> None:
    g = graph(hd(0, backing=hd(1, backing=None)))
    for other in ("bottom", "base"):  # refused before the device is even looked up
        assert failure(g, "block-stream", job_id="s", device="nosuch", base_node="hd1", **{other: "hd0"}) == (
            f"'{other}' and 'base-node' cannot be specified at the same time"
        )
    assert failure(g, "block-stream", job_id="s", device="hd0", bottom="nosuch") == (
        "Cannot find device='' nor node-name='nosuch'"
    )
    assert failure(g, "block-stream", job_id="1s", device="hd0") == "Invalid job ID '1s'"
    assert events(g) == []
    assert failure(g, "block-stream", job_id="s", device="hd0", speed=-1) == (
        "Parameter 'speed' expects a non-negative value"
    )
    assert events(g) == [("JOB_STATUS_CHANGE", "created"), ("JOB_STATUS_CHANGE", "null")] and not g.jobs
    run(g, "block-stream", job_id="s", device="hd0", bottom="hd0")  # its own bottom: nothing to copy
    assert events(g) == DONE + completed("s", 0) and node(g, "hd0").backing is node(g, "hd1")
    run(g, "block-stream", job_id="s", device="hd0", bottom="hd1", auto_finalize=False)
    events(g)
    for job_id in ("s", "t"):  # the waiting job's op blocker comes before the job ID's checks
        assert failure(g, "block-stream", job_id=job_id, device="hd0") == (
            "Node 'hd0' is busy: block device is in use by block job: stream"
        )
