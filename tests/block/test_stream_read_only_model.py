"""A stream of a read-only device: read-only again after it (7.2), read-write (10.0, 11.1), offline.

Seen on qsd and qemu-system 7.2 (host), 10.0.13 and 11.1.3 (trixie, sid): stream-245-middle and
reopen-245-jobs-stream-4 (tests/block/test_block_cases_versions.py).
"""

from __future__ import annotations

import pytest

from block.test_block_jobs_model import node, run
from block.test_stream_model import graph, hd, three
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.profiles import PROFILES


def streamed_middle(profile: str) -> BlockGraph:
    g = graph(three())
    g.profile = PROFILES[profile]
    assert node(g, "hd1").read_only and node(g, "hd1-file").read_only  # a backing chain opens read-only
    run(g, "block-stream", job_id="s", device="hd1")
    return g


@pytest.mark.parametrize(("profile", "read_only"), [("7.2", True), ("10.0", False), ("11.1", False)])
def test_the_device_is_read_only_again_on_7_2_only(profile: str, read_only: bool) -> None:
    g = streamed_middle(profile)
    assert node(g, "hd1").backing is None  # hd2's data is in hd1 now
    assert (node(g, "hd1").read_only, node(g, "hd1-file").read_only) == (read_only, read_only)
    nodes = run(g, "query-named-block-nodes", flat=True)
    assert {n["node-name"]: n["ro"] for n in nodes} == {
        "hd1": read_only, "hd1-file": read_only, "hd0": False, "hd0-file": False,
    }  # fmt: skip


def test_after_10_0_s_stream_a_reopen_of_the_device_abstains() -> None:
    reopen = {"driver": "qcow2", "node-name": "hd1", "file": "hd1-file", "read-only": True}
    run(streamed_middle("7.2"), "blockdev-reopen", options=[reopen])
    g = streamed_middle("10.0")
    for entry in (reopen, {**reopen, "backing": None}):  # the full path, and the plain one
        with pytest.raises(NotModelled, match="a stream left read-write"):
            run(g, "blockdev-reopen", options=[entry])
    run(g, "blockdev-reopen", options=[hd(0, backing="hd1")])  # naming it as a backing node is fine


def test_11_1_lists_the_stream_filter_s_device_as_its_file() -> None:
    """qsd 11.1.3 (reopen-245-jobs-stream-3 on sid): copy-on-read holds its device as 'file',
    where an active commit's mirror_top holds the top as 'backing'."""
    g = graph(three())
    g.profile = PROFILES["11.1"]
    run(g, "block-stream", job_id="s", device="hd0", base_node="hd2", auto_finalize=False)
    nodes = run(g, "query-named-block-nodes", flat=True)
    (shown,) = [n for n in nodes if n["drv"] == "copy-on-read"]
    assert shown["children"] == [{"child": "file", "node-name": "hd0"}]
