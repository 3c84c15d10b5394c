"""Job control in the block oracle, offline: pause, resume, set-speed, a rate-limited commit.

Every expectation was seen on qsd and qemu-system 7.2 first; the same
transcripts run on the binaries as fixtures/block/cases/job-control.json
(tests/block/test_block_cases.py). Here the storage is fake: over <- top <- b,
where top allocates its whole 1 MiB (two 512 KiB chunks for the commit).
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import OVER, SIZE, FakeStorage, events, node, plain, qobject
from block.test_block_jobs_model import run as run_command
from reference.block import job_commands
from reference.block.errors import BlockError, NotModelled
from reference.block.graph import BlockGraph
from reference.block.rate_limited_commit import CHUNK
from reference.qobject.patterns import ANY_INT, Wildcard
from reference.qobject.values import QDict

CONTROL = {"block-job-pause", "block-job-resume", "job-pause", "job-resume", "block-job-set-speed"}


class FullTop(FakeStorage):
    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        return [(0, SIZE)] if path == "/top" else []


def run(g: BlockGraph, command: str, **args: Any) -> Any:
    if command not in CONTROL:
        return run_command(g, command, **args)
    given = qobject({key.replace("_", "-"): value for key, value in args.items()})
    assert isinstance(given, QDict)
    return plain(getattr(job_commands, command.replace("-", "_"))(g, given))


def error(g: BlockGraph, command: str, **args: Any) -> tuple[str, str]:
    with pytest.raises(BlockError) as caught:
        run(g, command, **args)
    return caught.value.error_class, caught.value.desc


def limited(speed: int = 1, storage: FakeStorage | None = None, **flags: bool) -> BlockGraph:
    storage = storage or FullTop()
    storage.files["/over"] = (True, OVER)
    g = BlockGraph(storage)
    run(g, "blockdev-add", driver="qcow2", node_name="b", read_only=True,
        file={"driver": "file", "node-name": "bf", "filename": "/base"})  # fmt: skip
    for name, below in (("top", "b"), ("over", "top")):
        file = {"driver": "file", "node-name": f"{name}f", "filename": f"/{name}"}
        run(g, "blockdev-add", driver="qcow2", node_name=name, backing=below, file=file)
    run(g, "block-commit", job_id="j", device="over", top_node="top", base_node="b", speed=speed, **flags)
    return g


def status(*states: str) -> list[tuple[str, Any]]:
    return [("JOB_STATUS_CHANGE", state) for state in states]


def test_a_rate_limited_commit_keeps_running_with_a_read_write_base() -> None:
    g = limited()
    assert events(g) == status("created", "running")
    assert not node(g, "b").read_only and not node(g, "bf").read_only
    assert node(g, "over").backing is node(g, "top")
    with pytest.raises(NotModelled):  # busy and offset of a running job are timing
        run(g, "query-block-jobs")
    with pytest.raises(NotModelled):  # it holds a commit_top filter the model does not draw
        run(g, "query-named-block-nodes", flat=True)


def test_paused_job_shows_its_state_and_one_of_two_offsets() -> None:
    g = limited()
    g.take_events()
    assert run(g, "block-job-pause", device="j") is None
    assert events(g) == status("paused")
    shown_jobs = job_commands.query_block_jobs(g, QDict())
    assert isinstance(shown_jobs, list) and len(shown_jobs) == 1
    info = shown_jobs[0]
    # the first 512 KiB chunk was copied before the pause, or not (a race with the first sleep)
    assert isinstance(info, QDict) and info.get("offset") == Wildcard("int", (0, CHUNK))
    shown = {key: value for key, value in plain(info).items() if key != "offset"}
    assert shown == {
        "type": "commit", "device": "j", "len": SIZE, "busy": False, "paused": True, "speed": 1,
        "io-status": "ok", "ready": False, "status": "paused", "auto-finalize": True, "auto-dismiss": True,
    }  # fmt: skip
    assert error(g, "job-pause", id="j") == ("GenericError", "Job is already paused")
    assert error(g, "job-complete", id="j") == (
        "GenericError", "Job 'j' in state 'paused' cannot accept command verb 'complete'",
    )  # fmt: skip
    assert error(g, "block-job-cancel", device="j") == (
        "GenericError", "The block job for device 'j' is currently paused",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("block-job-resume", {"device": "j"}, ("GenericError", "Can't resume a job that was not paused")),
        ("job-resume", {"id": "j"}, ("GenericError", "Can't resume a job that was not paused")),
        ("block-job-pause", {"device": "x"}, ("DeviceNotActive", "Block job 'x' not found")),
        ("job-pause", {"id": "x"}, ("GenericError", "Job not found")),
        ("block-job-set-speed", {"device": "x", "speed": 5}, ("DeviceNotActive", "Block job 'x' not found")),
    ],
)
def test_refusals_of_a_running_job(command: str, args: dict[str, Any], expected: tuple[str, str]) -> None:
    assert error(limited(), command, **args) == expected


def test_resume_wakes_it_for_one_chunk_only_while_data_is_left() -> None:
    g = limited()
    run(g, "job-pause", id="j")
    g.take_events()
    with pytest.raises(NotModelled):  # the second and last chunk would end the job
        run(g, "job-resume", id="j")


def test_cancel_of_a_paused_job_runs_it_first_and_puts_the_base_back() -> None:
    g = limited(speed=2)
    run(g, "block-job-pause", device="j")
    g.take_events()
    run(g, "block-job-cancel", device="j", force=True)
    cancelled = plain(g.take_events()[2])["data"]
    assert (
        cancelled["offset"] == Wildcard("int", (0, CHUNK))
        and cancelled["speed"] == 2
        and cancelled["len"] == SIZE
    )
    assert [name for name, _ in events(limited())] == ["JOB_STATUS_CHANGE"] * 2
    g2 = limited()
    g2.take_events()
    run(g2, "job-cancel", id="j")
    assert [e if e[0] == "JOB_STATUS_CHANGE" else e[0] for e in events(g2)] == [
        ("JOB_STATUS_CHANGE", "aborting"), "BLOCK_JOB_CANCELLED", *status("concluded", "null"),
    ]  # fmt: skip
    for graph in (g, g2):
        assert graph.jobs == {} and node(graph, "b").read_only and node(graph, "bf").read_only
        assert node(graph, "over").backing is node(graph, "top")


@pytest.mark.parametrize("paused", [True, False])
def test_speed_zero_runs_it_to_the_end(paused: bool) -> None:
    g = limited()
    if paused:
        run(g, "job-pause", id="j")
    g.take_events()
    run(g, "block-job-set-speed", device="j", speed=0)
    if paused:
        assert events(g) == []  # a paused job is not woken
        run(g, "job-resume", id="j")
    done = {"type": "commit", "device": "j", "len": SIZE, "offset": SIZE, "speed": 0}
    expected = [*status("waiting", "pending"), ("BLOCK_JOB_COMPLETED", done), *status("concluded", "null")]
    assert events(g) == (status("running") if paused else []) + expected
    assert g.jobs == {} and node(g, "over").backing is node(g, "b") and node(g, "b").read_only


def test_same_speed_does_not_wake_a_running_job_a_higher_one_does() -> None:
    g = limited()
    run(g, "block-job-set-speed", device="j", speed=1)
    with pytest.raises(NotModelled):  # woken, it copies the last chunk and ends
        run(g, "block-job-set-speed", device="j", speed=2)


def test_a_speed_that_lets_the_job_finish_is_not_modelled() -> None:
    with pytest.raises(NotModelled):
        limited(speed=1 << 20)


def test_ready_active_commit_pauses_to_standby() -> None:
    g = limited()
    run(g, "job-pause", id="j")
    run(g, "block-job-cancel", device="j", force=True)
    g.take_events()
    run(g, "block-commit", job_id="a", device="over", base_node="top")
    g.take_events()
    run(g, "block-job-pause", device="a")
    assert events(g) == status("standby")
    assert plain(run(g, "query-jobs"))[0]["status"] == "standby"
    run(g, "block-job-set-speed", device="a", speed=100)
    run(g, "job-resume", id="a")
    assert events(g) == status("ready")
    run(g, "block-job-complete", device="a")
    completed = dict(events(g))["BLOCK_JOB_COMPLETED"]
    assert completed["speed"] == 100


def test_pending_job_refuses_control_verbs() -> None:
    # run to its end with auto-finalize off, the commit waits in pending
    g3 = limited(speed=1, auto_finalize=False)
    run(g3, "job-pause", id="j")
    run(g3, "block-job-set-speed", device="j", speed=0)
    run(g3, "job-resume", id="j")
    assert g3.jobs["j"].state == "pending"
    for command, args, verb in (
        ("block-job-pause", {"device": "j"}, "pause"),
        ("block-job-set-speed", {"device": "j", "speed": 1}, "set-speed"),
        ("block-job-complete", {"device": "j"}, "complete"),
    ):
        assert error(g3, command, **args) == (
            "GenericError", f"Job 'j' in state 'pending' cannot accept command verb '{verb}'",
        )  # fmt: skip
    assert error(g3, "job-resume", id="j") == ("GenericError", "Can't resume a job that was not paused")


def test_negative_speed_is_refused_after_created() -> None:
    with pytest.raises(BlockError) as caught:
        limited(speed=-1)
    assert caught.value.desc == "Parameter 'speed' expects a non-negative value"


class FourChunks(FakeStorage):
    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        return [(0, 4 * CHUNK)] if path == "/top" else []


class GapFirst(FakeStorage):
    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        return [(CHUNK // 2, CHUNK + 4096)] if path == "/top" else []


def chain_commit(storage: FakeStorage) -> BlockGraph:
    g = BlockGraph(storage)
    run(g, "blockdev-add", driver="qcow2", node_name="b", file={"driver": "file", "filename": "/base"})
    file = {"driver": "file", "filename": "/top"}
    run(g, "blockdev-add", driver="qcow2", node_name="top", backing="b", file=file)
    storage.files["/over"] = (True, OVER)
    file = {"driver": "file", "filename": "/over"}
    run(g, "blockdev-add", driver="qcow2", node_name="over", backing="top", file=file)
    run(g, "block-commit", job_id="j", device="over", top_node="top", base_node="b", speed=1)
    return g


def test_each_wake_up_moves_both_possible_offsets_one_chunk_on() -> None:
    g = chain_commit(FourChunks())
    offsets = []
    for turn in range(3):
        if turn:
            run(g, "job-resume", id="j")
        run(g, "job-pause", id="j")
        offsets.append(job_commands.query_jobs(g, QDict()))
    shown = [plain(listed)[0]["current-progress"] for listed in offsets]
    assert [(w.values if isinstance(w, Wildcard) else w) for w in shown] == [
        (0, CHUNK), (CHUNK, 2 * CHUNK), (2 * CHUNK, 3 * CHUNK),
    ]  # fmt: skip


def test_data_not_starting_at_zero_leaves_the_offset_open() -> None:
    g = chain_commit(GapFirst())
    run(g, "block-job-pause", device="j")
    info = job_commands.query_block_jobs(g, QDict())
    assert isinstance(info, list) and isinstance(info[0], QDict) and info[0].get("offset") is ANY_INT


OVER_DATA = 2 * 65536  # what the overlay allocates: two clusters


class FullTopDataOver(FullTop):
    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        return [(0, OVER_DATA)] if path == "/over" else super().allocated_extents(path)


def ready_commit(speed: int = 0) -> BlockGraph:
    g = limited(storage=FullTopDataOver())
    run(g, "job-pause", id="j")
    run(g, "block-job-cancel", device="j", force=True)
    run(g, "block-commit", job_id="a", device="over", base_node="top", speed=speed)
    return g


def test_an_active_commit_fast_enough_to_be_ready_within_a_second_shows_its_speed() -> None:
    g = ready_commit(speed=OVER_DATA)  # the overlay's data in one second
    shown = events(g)[-1]
    assert shown[0] == "BLOCK_JOB_READY" and shown[1]["speed"] == OVER_DATA
    assert shown[1]["offset"] == shown[1]["len"] == OVER_DATA
    with pytest.raises(NotModelled):  # slower: how far the mirror got is timing
        ready_commit(speed=OVER_DATA - 1)


def test_complete_in_standby_waits_for_the_resume() -> None:
    g = ready_commit()
    run(g, "block-job-pause", device="a")
    g.take_events()
    for command, args in (("job-complete", {"id": "a"}), ("block-job-complete", {"device": "a"})):
        assert run(g, command, **args) is None
    assert events(g) == [] and plain(run(g, "query-jobs"))[0]["status"] == "standby"
    assert error(g, "block-job-cancel", device="a") == (
        "GenericError", "The block job for device 'a' is currently paused",
    )  # fmt: skip
    run(g, "job-resume", id="a")
    assert [e if e[0] == "JOB_STATUS_CHANGE" else e[0] for e in events(g)] == [
        *status("ready", "waiting", "pending"), "BLOCK_JOB_COMPLETED", *status("concluded", "null"),
    ]  # fmt: skip
    assert g.jobs == {} and node(g, "over").backing is node(g, "top")


@pytest.mark.parametrize("completed_first", [False, True])
def test_a_forced_cancel_in_standby_makes_it_ready_then_aborts(completed_first: bool) -> None:
    g = ready_commit()
    run(g, "job-pause", id="a")
    if completed_first:
        run(g, "job-complete", id="a")
    g.take_events()
    run(g, "job-cancel", id="a")
    assert [e if e[0] == "JOB_STATUS_CHANGE" else e[0] for e in events(g)] == [
        *status("ready", "aborting"), "BLOCK_JOB_CANCELLED", *status("concluded", "null"),
    ]  # fmt: skip
    assert g.jobs == {}
