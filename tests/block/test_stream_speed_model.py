"""A rate-limited block-stream in the block oracle, offline (reference/block/rate_limited_stream.py).

Seen on qsd and qemu-system 7.2 first, and on qsd 10.0 and 11.1 (the same transcripts run as
fixtures/block/cases/stream-speed.json). Storage is fake: 'low', 2 MiB of data from offset 0 (four
512 KiB chunks), under 'up', an empty 2 MiB image; or 'up' with data of its own (Patchy).
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import CLUSTER, FakeStorage, events, node
from block.test_job_control_model import error, run
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.job import RateLimitedCommitJob
from reference.block.rate_limited_commit import CHUNK
from reference.block.storage import ImageFacts
from reference.profiles import get_profile
from reference.qobject.patterns import Wildcard

SIZE = 4 * CHUNK
BUSY = "block device is in use by block job: stream"


class FourChunksBelow(FakeStorage):
    def __init__(self) -> None:
        super().__init__()
        self.files["/low"] = (True, ImageFacts("qcow2", SIZE, CLUSTER))
        self.files["/up"] = (True, ImageFacts("qcow2", SIZE, CLUSTER))

    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        return [(0, SIZE)] if path == "/low" else []


class Patchy(FourChunksBelow):
    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        return [(0, 4096)] if path == "/up" else super().allocated_extents(path)


def stream(profile: str = "7.2", storage: FakeStorage | None = None, **args: Any) -> BlockGraph:
    g = BlockGraph(storage or FourChunksBelow(), get_profile(profile))
    low = {
        "driver": "qcow2",
        "node-name": "low",
        "file": {"driver": "file", "filename": "/low"},
        "backing": None,
    }
    run(
        g,
        "blockdev-add",
        driver="qcow2",
        node_name="up",
        file={"driver": "file", "filename": "/up"},
        backing=low,
    )
    run(g, "block-stream", job_id="s", device="up", **{"speed": 1, **args})
    return g


def shown(g: BlockGraph) -> Any:
    offset = run(g, "query-block-jobs")[0]["offset"]
    return offset.values if isinstance(offset, Wildcard) else offset


def test_the_job_runs_after_the_reply_and_holds_the_chain() -> None:
    g = stream()
    assert events(g) == [("JOB_STATUS_CHANGE", "created"), ("JOB_STATUS_CHANGE", "running")]
    job = g.jobs["s"]
    assert isinstance(job, RateLimitedCommitJob) and job.kind == "stream" and job.state == "running"
    with pytest.raises(NotModelled):  # running: whether it is copying is timing
        run(g, "query-block-jobs")
    for name in ("up", "low"):
        assert error(g, "blockdev-del", node_name=name) == ("GenericError", f"Node '{name}' is busy: {BUSY}")
    assert any(n.filter_of is node(g, "up") for n in g.nodes)  # the copy-on-read filter is in place


@pytest.mark.parametrize(
    ("profile", "after"), [("7.2", (CHUNK, 2 * CHUNK)), ("10.0", CHUNK), ("11.1", CHUNK)]
)
def test_paused_the_first_chunk_is_a_race_and_a_resume_copies_one_more_on_7_2(
    profile: str, after: Any
) -> None:
    g = stream(profile)
    run(g, "job-pause", id="s")
    assert shown(g) == (0, CHUNK) and run(g, "query-block-jobs")[0]["type"] == "stream"
    run(g, "block-job-set-speed", device="s", speed=2)  # paused: nothing wakes it
    assert shown(g) == (0, CHUNK)
    run(g, "job-resume", id="s")
    run(g, "job-pause", id="s")
    assert shown(g) == after


def test_cancel_needs_force_when_paused_and_leaves_the_chain() -> None:
    g = stream()
    run(g, "job-pause", id="s")
    events(g)
    assert error(g, "block-job-cancel", device="s") == (
        "GenericError",
        "The block job for device 's' is currently paused",
    )
    run(g, "block-job-cancel", device="s", force=True)
    cancelled = events(g)
    assert [name for name, _ in cancelled] == ["JOB_STATUS_CHANGE"] * 2 + ["BLOCK_JOB_CANCELLED"] + [
        "JOB_STATUS_CHANGE"
    ] * 2
    data = dict(cancelled[2][1])
    assert (data["type"], data["len"], data["speed"]) == ("stream", SIZE, 1)
    up, low = node(g, "up"), node(g, "low")
    assert not g.jobs and up.backing is low and low.parents == [up] and not up.blockers and up.parents == []
    assert all(n.filter_of is None for n in g.nodes) and up.stale


def test_speed_zero_runs_it_to_the_end_as_an_unlimited_stream() -> None:
    g = stream(filter_node_name="cor")
    assert g.find("cor") is not None
    events(g)
    run(g, "block-job-set-speed", device="s", speed=0)
    ends = events(g)
    assert [s for _, s in ends if isinstance(s, str)] == ["waiting", "pending", "concluded", "null"]
    assert (
        "BLOCK_JOB_COMPLETED",
        {"type": "stream", "device": "s", "len": SIZE, "offset": SIZE, "speed": 0},
    ) in ends
    up = node(g, "up")
    assert not g.jobs and g.find("low") is None and g.find("cor") is None and up.backing is None
    assert not up.blockers and up.auto_backing_file == ""


def test_data_of_the_device_itself_leaves_any_offset() -> None:
    g = stream(storage=Patchy())
    run(g, "job-pause", id="s")
    assert isinstance(run(g, "query-block-jobs")[0]["offset"], Wildcard)


@pytest.mark.parametrize(
    "args", [{"speed": 1 << 30}, {"auto_finalize": False}, {"auto_dismiss": False}, {"bottom": "up"}]
)
def test_what_the_model_cannot_say_abstains(args: dict[str, Any]) -> None:
    with pytest.raises(NotModelled):
        stream(**args)
