"""A woken rate-limited commit, offline, by profile: 7.2 copies a chunk per wake-up, 8.0 on does not.

Seen on the binaries (fixtures/block/cases/job-control.json, tests/block/test_block_cases_versions.py):
a commit at 1 or 128 bytes/s, paused and resumed twice or given a raised speed twice, is at 1.5 MiB
on qsd 7.2 and still at 512 KiB on qsd 10.0 and 11.1. Storage is fake: top allocates four 512 KiB
chunks from offset 0 (FourChunks), or two (FullTop).
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import OVER, SIZE, FakeStorage, plain
from block.test_job_control_model import FourChunks, FullTop, run
from reference.block import job_commands
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.rate_limited_commit import CHUNK
from reference.profiles import get_profile
from reference.qobject.patterns import Wildcard
from reference.qobject.values import QDict

LATER = ("10.0", "11.1")


def commit(storage: FakeStorage, profile: str, speed: int = 1) -> BlockGraph:
    g = BlockGraph(storage, get_profile(profile))
    run(g, "blockdev-add", driver="qcow2", node_name="b", file={"driver": "file", "filename": "/base"})
    run(
        g,
        "blockdev-add",
        driver="qcow2",
        node_name="top",
        backing="b",
        file={"driver": "file", "filename": "/top"},
    )
    storage.files["/over"] = (True, OVER)
    run(
        g,
        "blockdev-add",
        driver="qcow2",
        node_name="over",
        backing="top",
        file={"driver": "file", "filename": "/over"},
    )
    run(g, "block-commit", job_id="j", device="over", top_node="top", base_node="b", speed=speed)
    return g


def progress(g: BlockGraph) -> Any:
    """query-jobs' current-progress: an int, or the tuple of the possible ones."""
    shown = plain(job_commands.query_jobs(g, QDict()))[0]["current-progress"]
    return shown.values if isinstance(shown, Wildcard) else shown


def paused_after_resumes(profile: str) -> list[Any]:
    g = commit(FourChunks(), profile)
    shown = []
    for turn in range(3):
        if turn:
            run(g, "job-resume", id="j")
        run(g, "job-pause", id="j")
        shown.append(progress(g))
    return shown


def test_7_2_moves_on_a_chunk_per_resume() -> None:
    assert paused_after_resumes("7.2") == [(0, CHUNK), (CHUNK, 2 * CHUNK), (2 * CHUNK, 3 * CHUNK)]


@pytest.mark.parametrize("profile", LATER)
def test_later_versions_stay_at_the_first_chunk_once_woken(profile: str) -> None:
    # before any wake-up the first chunk's race is the same as 7.2's
    assert paused_after_resumes(profile) == [(0, CHUNK), CHUNK, CHUNK]


@pytest.mark.parametrize(
    ("profile", "expected"), [("7.2", (2 * CHUNK, 3 * CHUNK)), *((p, CHUNK) for p in LATER)]
)
def test_a_raised_speed_wakes_it_by_the_same_rule(profile: str, expected: Any) -> None:
    g = commit(FourChunks(), profile)
    for speed in (2, 3):  # each raise kicks the sleeping job
        run(g, "block-job-set-speed", device="j", speed=speed)
    run(g, "block-job-set-speed", device="j", speed=3)  # the same speed does not
    run(g, "job-pause", id="j")
    assert progress(g) == expected


@pytest.mark.parametrize("profile", LATER)
def test_waking_a_two_chunk_job_never_reaches_its_end_on_later_versions(profile: str) -> None:
    g = commit(FullTop(), profile, speed=128)
    for _ in range(3):
        run(g, "job-pause", id="j")
        run(g, "job-resume", id="j")
    run(g, "block-job-set-speed", device="j", speed=145)
    g.take_events()
    run(g, "job-cancel", id="j")
    cancelled = [plain(e)["data"] for e in g.take_events() if plain(e)["event"] == "BLOCK_JOB_CANCELLED"]
    assert cancelled == [{"type": "commit", "device": "j", "len": SIZE, "offset": CHUNK, "speed": 145}]


def test_7_2_abstains_where_a_wake_up_may_end_a_two_chunk_job() -> None:
    g = commit(FullTop(), "7.2")
    run(g, "job-pause", id="j")
    with pytest.raises(NotModelled):
        run(g, "job-resume", id="j")
