"""The active commit, its job commands and blockdev-del's blockers in the block oracle, offline.

Every expectation here was seen on qsd and qemu-system 7.2 first: the same
transcripts run on the binaries as fixtures/block/regressions.json
(tests/block/test_block_cases.py). These tests pin the oracle without them,
on fake storage: a qcow2 top over a qcow2 base, a lone qcow2 and raw files.
"""

from __future__ import annotations

from typing import Any

import pytest

from reference.block import commands
from reference.block.errors import BlockError
from reference.block.graph import BlockGraph
from reference.block.node import Node
from reference.block.storage import FileFacts, ImageFacts
from reference.profiles import PROFILES
from reference.qobject.values import QDict, QObject, qnull

CLUSTER = 65536
SIZE = 1 << 20
BASE = ImageFacts("qcow2", SIZE, CLUSTER)
TOP = ImageFacts("qcow2", SIZE, CLUSTER, backing_file="/base", backing_format="qcow2",
                 full_backing_file="/base")  # fmt: skip
# The top holds 5 KiB at 512 KiB: one granule of the base's cluster size to copy.
TOP_EXTENTS = [(512 << 10, 5120)]
JOB_BLOCKER = "block device is in use by block job: commit"


class FakeStorage:
    """Files by path: (writable, header or None), and what each image allocates itself."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bool, ImageFacts | None]] = {
            "/base": (True, BASE), "/top": (True, TOP), "/solo": (True, BASE),
            "/raw": (False, None), "/raw2": (False, None),
        }  # fmt: skip

    def open_error(self, path: str, write: bool) -> str | None:
        if path not in self.files:
            return "No such file or directory"
        return "Read-only file system" if write and not self.files[path][0] else None

    def file(self, path: str) -> FileFacts:
        return FileFacts(size=SIZE, allocated=4096)

    def image(self, path: str) -> ImageFacts | None:
        return self.files[path][1]

    def allocated_extents(self, path: str) -> list[tuple[int, int]]:
        return TOP_EXTENTS if path == "/top" else []


def qobject(value: Any) -> QObject:
    if isinstance(value, dict):
        return QDict({key: qobject(item) for key, item in value.items()})
    if isinstance(value, list):
        return [qobject(item) for item in value]
    return qnull if value is None else value


def plain(value: QObject) -> Any:
    """A QObject as plain Python (QDicts as dicts), for comparisons."""
    if isinstance(value, QDict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def run(g: BlockGraph, command: str, **args: Any) -> Any:
    """One QMP command on the graph, arguments spelled with '_' for '-'; the return value, plain."""
    handler = getattr(commands, command.replace("-", "_"))
    given = qobject({key.replace("_", "-"): value for key, value in args.items()})
    assert isinstance(given, QDict)
    return plain(handler(g, given))


def error(g: BlockGraph, command: str, **args: Any) -> tuple[str, str]:
    with pytest.raises(BlockError) as caught:
        run(g, command, **args)
    return caught.value.error_class, caught.value.desc


def events(g: BlockGraph) -> list[tuple[str, Any]]:
    """(name, status or data) of each predicted event."""
    found = []
    for event in map(plain, g.take_events()):
        name, data = event["event"], event["data"]
        found.append((name, data["status"] if name == "JOB_STATUS_CHANGE" else data))
    return found


def node(g: BlockGraph, name: str) -> Node:
    found = g.find(name)
    assert found is not None
    return found


def chain_graph(top_read_only: bool = False, named_base: bool = False) -> BlockGraph:
    """top over base (auto-named from the header, or given as 'b'), and a lone qcow2 'solo'."""
    g = BlockGraph(FakeStorage())
    file = {"driver": "file", "node-name": "topf", "filename": "/top"}
    top: dict[str, Any] = {"driver": "qcow2", "node_name": "top", "file": file}
    if named_base:
        base = {"driver": "file", "node-name": "bf", "filename": "/base"}
        run(g, "blockdev-add", driver="qcow2", node_name="b", read_only=True, file=base)
        top["backing"] = "b"
    if top_read_only:
        top["read_only"] = True
    run(g, "blockdev-add", **top)
    run(g, "blockdev-add", driver="qcow2", node_name="solo", file={"driver": "file", "filename": "/solo"})
    return g


def base_of(g: BlockGraph) -> Node:
    base = node(g, "top").backing
    assert base is not None
    return base


READY = [
    ("JOB_STATUS_CHANGE", "created"),
    ("JOB_STATUS_CHANGE", "running"),
    ("JOB_STATUS_CHANGE", "ready"),
    ("BLOCK_JOB_READY", {"type": "commit", "device": "j", "len": CLUSTER, "offset": CLUSTER, "speed": 0}),
]


def test_active_commit_waits_in_ready_under_a_filter() -> None:
    g = chain_graph()
    base = base_of(g)
    assert base.read_only and base.auto_named  # a backing node opened from the header
    assert run(g, "block-commit", job_id="j", device="top") is None
    assert events(g) == READY
    top = node(g, "top")
    (filter_node,) = top.parents
    assert (filter_node.driver, filter_node.auto_named, g.nodes[-1]) == ("mirror_top", True, filter_node)
    assert not base.read_only and base.file_child is not None and not base.file_child.read_only
    assert top.blockers[0] == JOB_BLOCKER and base.blockers[0] == JOB_BLOCKER
    nodes = run(g, "query-named-block-nodes", flat=True)
    first = nodes[0]
    assert (first["drv"], first["ro"], "backing_file" in first) == ("mirror_top", False, False)
    bitmaps = {n["node-name"]: n["dirty-bitmaps"] for n in nodes if "dirty-bitmaps" in n}
    assert bitmaps == {
        "top": [{"count": 0, "granularity": CLUSTER, "recording": True, "busy": False, "persistent": False}]
    }


def test_from_10_0_the_bitmap_sits_on_the_filter_and_does_not_record() -> None:
    """qsd 10.0.13 and 11.1.3 (regression-commit-* on qsd@trixie, qsd@sid): the mirror's bitmap
    is its mirror_top filter's, disabled; it goes with the filter."""
    g = chain_graph()
    g.profile = PROFILES["10.0"]
    run(g, "block-commit", job_id="j", device="top")
    nodes = run(g, "query-named-block-nodes", flat=True)
    bitmaps = {n["drv"]: n["dirty-bitmaps"] for n in nodes if "dirty-bitmaps" in n}
    assert bitmaps == {
        "mirror_top": [{"count": 0, "granularity": CLUSTER, "recording": False, "busy": False,
                        "persistent": False}]
    }  # fmt: skip
    run(g, "job-complete", id="j")
    assert not any("dirty-bitmaps" in n for n in run(g, "query-named-block-nodes", flat=True))


def test_query_block_jobs_shows_the_ready_job() -> None:
    g = chain_graph()
    assert run(g, "query-block-jobs") == []
    run(g, "block-commit", job_id="j", device="top")
    assert run(g, "query-block-jobs") == [{
        "type": "commit", "device": "j", "len": CLUSTER, "offset": CLUSTER, "busy": False, "paused": False,
        "speed": 0, "io-status": "ok", "ready": True, "status": "ready", "auto-finalize": True,
        "auto-dismiss": True,
    }]  # fmt: skip
    run(g, "job-complete", id="j")
    assert run(g, "query-block-jobs") == []


COMPLETED = [
    ("JOB_STATUS_CHANGE", "waiting"),
    ("JOB_STATUS_CHANGE", "pending"),
    ("BLOCK_JOB_COMPLETED", {"type": "commit", "device": "j", "len": CLUSTER, "offset": CLUSTER, "speed": 0}),
    ("JOB_STATUS_CHANGE", "concluded"),
    ("JOB_STATUS_CHANGE", "null"),
]
CANCELLED = [
    ("JOB_STATUS_CHANGE", "aborting"),
    ("BLOCK_JOB_CANCELLED", {"type": "commit", "device": "j", "len": CLUSTER, "offset": CLUSTER, "speed": 0}),
    ("JOB_STATUS_CHANGE", "concluded"),
    ("JOB_STATUS_CHANGE", "null"),
]


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("job-complete", {"id": "j"}, COMPLETED),
        ("block-job-complete", {"device": "j"}, COMPLETED),
        ("block-job-cancel", {"device": "j"}, COMPLETED),  # a ready job without force: completes
        ("block-job-cancel", {"device": "j", "force": True}, CANCELLED),
        ("job-cancel", {"id": "j"}, CANCELLED),
    ],
)
def test_complete_or_cancel(command: str, args: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    g = chain_graph()
    base = base_of(g)
    run(g, "block-commit", job_id="j", device="top")
    events(g)
    assert run(g, command, **args) is None
    assert events(g) == expected
    top = node(g, "top")
    assert not g.jobs and top.parents == [] and "mirror_top" not in [n.driver for n in g.nodes]
    assert top.backing is base and top.job_bitmap is None  # no pivot: the graph keeps its shape
    assert not base.read_only  # under a writable top the base stays read-write
    assert JOB_BLOCKER not in top.blockers + base.blockers


def test_read_only_top_puts_the_base_back_to_read_only() -> None:
    g = chain_graph(top_read_only=True)
    base = base_of(g)
    assert base.file_child is not None
    run(g, "block-commit", job_id="j", device="top")
    assert (base.read_only, base.file_child.read_only) == (False, False)
    run(g, "block-job-complete", device="j")
    assert (base.read_only, base.file_child.read_only) == (True, True)
    assert node(g, "top").read_only


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"job_id": "j", "device": "nope"}, ("DeviceNotFound", "Device 'nope' not found")),
        ({"job_id": "j", "device": "solo"}, ("GenericError", "cannot commit an image into itself")),
        ({"job_id": "j", "device": "top", "base_node": "solo"},
         ("GenericError", "'solo' is not in this backing file chain")),
        ({"device": "top"}, ("GenericError", "Invalid job ID ''")),
    ],
)  # fmt: skip
def test_commit_errors(args: dict[str, Any], expected: tuple[str, str]) -> None:
    g = chain_graph(named_base=True)
    assert error(g, "block-commit", **args) == expected
    assert not g.jobs and events(g) == []  # nothing starts


def test_a_node_under_the_filter_is_not_a_root() -> None:
    g = chain_graph(named_base=True)
    run(g, "block-commit", job_id="j", device="top", base_node="b")
    assert error(g, "block-commit", job_id="k", device="top") == ("GenericError", "Need a root block node")


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("block-job-complete", {"device": "nojob"}, ("DeviceNotActive", "Block job 'nojob' not found")),
        ("block-job-cancel", {"device": "nojob"}, ("DeviceNotActive", "Block job 'nojob' not found")),
        ("job-complete", {"id": "nojob"}, ("GenericError", "Job not found")),
        ("job-cancel", {"id": "nojob"}, ("GenericError", "Job not found")),
    ],
)
def test_unknown_job(command: str, args: dict[str, Any], expected: tuple[str, str]) -> None:
    g = chain_graph()
    run(g, "block-commit", job_id="j", device="top")
    assert error(g, command, **args) == expected
    assert list(g.jobs) == ["j"]


def test_blockdev_del_blockers_in_qemus_order() -> None:
    g = chain_graph(named_base=True)
    backing = ("GenericError", "Node 'b' is busy: node is used as backing hd of 'top'")
    assert error(g, "blockdev-del", node_name="b") == backing
    run(g, "block-commit", job_id="j", device="top", base_node="b")
    # The job's BlockBackend on the base is checked before any op blocker.
    assert error(g, "blockdev-del", node_name="b") == ("GenericError", "Node b is in use")
    assert error(g, "blockdev-del", node_name="top") == ("GenericError", f"Node 'top' is busy: {JOB_BLOCKER}")
    run(g, "block-job-cancel", device="j")
    assert error(g, "blockdev-del", node_name="b") == backing
    run(g, "blockdev-del", node_name="top")
    run(g, "blockdev-del", node_name="b")
    assert [n.name for n in g.nodes if not n.auto_named] == ["solo"]


def test_reopen_takes_an_inheriting_inline_child_along() -> None:
    g = BlockGraph(FakeStorage())
    file = {"driver": "file", "node-name": "qf", "filename": "/solo"}
    run(g, "blockdev-add", driver="qcow2", node_name="q", file=file)
    for read_only in (True, False):
        entry = {"driver": "qcow2", "node-name": "q", "file": "qf", "backing": None, "read-only": read_only}
        run(g, "blockdev-reopen", options=[entry])
        assert (node(g, "q").read_only, node(g, "qf").read_only) == (read_only, read_only)


def test_reopen_child_keeps_the_auto_read_only_it_set_itself() -> None:
    g = BlockGraph(FakeStorage())  # /raw and /raw2 cannot be opened read-write
    run(g, "blockdev-add", driver="raw", node_name="r", read_only=True,
        file={"driver": "file", "node-name": "rf", "filename": "/raw", "auto-read-only": True})  # fmt: skip
    run(g, "blockdev-add", driver="raw", node_name="s", read_only=True,
        file={"driver": "file", "node-name": "sf", "filename": "/raw2"})  # fmt: skip
    run(g, "blockdev-reopen", options=[{"driver": "raw", "node-name": "r", "file": "rf", "read-only": False}])
    assert (node(g, "rf").read_only, node(g, "rf").auto_read_only) == (False, True)
    entry = {"driver": "raw", "node-name": "s", "file": "sf", "read-only": False}
    assert error(g, "blockdev-reopen", options=[entry]) == (
        "GenericError", "Could not open '/raw2': Read-only file system")  # fmt: skip
    assert node(g, "sf").read_only  # all or nothing


# A non-active commit (iotests 247/249): over <- top <- b, committing top into b.
OVER = ImageFacts(
    "qcow2", SIZE, CLUSTER, backing_file="/top", backing_format="qcow2", full_backing_file="/top"
)
DONE = {"type": "commit", "device": "j", "len": SIZE, "offset": SIZE, "speed": 0}


def three_layers(file_read_only: bool = False) -> BlockGraph:
    storage = FakeStorage()
    storage.files["/over"] = (True, OVER)
    g = BlockGraph(storage)
    base_file: dict[str, Any] = {"driver": "file", "node-name": "bf", "filename": "/base"}
    if file_read_only:
        base_file["read-only"] = True
    run(g, "blockdev-add", driver="qcow2", node_name="b", read_only=True, file=base_file)
    for name, below in (("top", "b"), ("over", "top")):
        file = {"driver": "file", "node-name": f"{name}f", "filename": f"/{name}"}
        run(g, "blockdev-add", driver="qcow2", node_name=name, backing=below, file=file)
    return g


def commit(g: BlockGraph, **flags: bool) -> None:
    run(g, "block-commit", job_id="j", device="over", top_node="top", base_node="b", **flags)


def test_a_base_over_an_explicitly_read_only_file_is_not_reopened() -> None:
    g = three_layers(file_read_only=True)
    with pytest.raises(BlockError) as caught:
        commit(g)
    assert caught.value.desc == "Block node is read-only"
    assert events(g) == [("JOB_STATUS_CHANGE", "created"), ("JOB_STATUS_CHANGE", "null")]
    assert node(g, "over").backing is node(g, "top") and node(g, "b").read_only
    # the active commit fails the same way, before any event
    assert error(g, "block-commit", job_id="k", device="over", base_node="b") == (
        "GenericError", "Block node is read-only",
    )  # fmt: skip
    assert events(g) == [] and run(g, "query-jobs") == []


def test_manual_finalize_and_dismiss() -> None:
    g = three_layers()
    commit(g, auto_finalize=False, auto_dismiss=False)
    assert events(g) == [
        ("JOB_STATUS_CHANGE", "created"), ("JOB_STATUS_CHANGE", "running"), ("JOB_STATUS_CHANGE", "waiting"),
        ("JOB_STATUS_CHANGE", "pending"), ("BLOCK_JOB_PENDING", {"type": "commit", "id": "j"}),
    ]  # fmt: skip
    job = {"id": "j", "type": "commit", "status": "pending", "current-progress": SIZE, "total-progress": SIZE}
    assert run(g, "query-jobs") == [job]
    [info] = run(g, "query-block-jobs")
    assert (info["status"], info["ready"], info["auto-finalize"], info["auto-dismiss"]) == (
        "pending",
        False,
        False,
        False,
    )
    assert node(g, "over").backing is node(g, "top")  # the graph changes only when the job finalizes
    assert error(g, "job-dismiss", id="j") == (
        "GenericError", "Job 'j' in state 'pending' cannot accept command verb 'dismiss'",
    )  # fmt: skip
    run(g, "job-finalize", id="j")
    assert events(g) == [("BLOCK_JOB_COMPLETED", DONE), ("JOB_STATUS_CHANGE", "concluded")]
    assert node(g, "over").backing is node(g, "b") and g.find("top") is not None
    assert run(g, "query-jobs") == [{**job, "status": "concluded"}]
    assert error(g, "job-finalize", id="j") == (
        "GenericError", "Job 'j' in state 'concluded' cannot accept command verb 'finalize'",
    )  # fmt: skip
    run(g, "job-dismiss", id="j")
    assert events(g) == [("JOB_STATUS_CHANGE", "null")]
    assert error(g, "job-dismiss", id="j") == ("GenericError", "Job not found")
    assert run(g, "query-jobs") == []


def test_auto_dismiss_off_stays_concluded() -> None:
    g = three_layers()
    commit(g, auto_dismiss=False)
    assert [data for _name, data in events(g)][-3:] == ["pending", DONE, "concluded"]
    assert [job["status"] for job in run(g, "query-jobs")] == ["concluded"]
    run(g, "job-dismiss", id="j")
    assert events(g) == [("JOB_STATUS_CHANGE", "null")] and run(g, "query-jobs") == []


def test_finalize_refused_for_a_ready_active_commit() -> None:
    g = chain_graph()
    run(g, "block-commit", job_id="j", device="top")
    assert error(g, "job-finalize", id="j") == (
        "GenericError", "Job 'j' in state 'ready' cannot accept command verb 'finalize'",
    )  # fmt: skip
