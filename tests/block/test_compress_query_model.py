"""query-named-block-nodes with a compress filter, without binaries (reference/block/compress_query.py).

The same answers run against qsd and qemu-system 7.2 and qsd 10.0 and 11.1 in
fixtures/block/cases/compress-filter.json compress-filter-query and iotest-245.json's
iotest-245-insert-compress-filter (tests/block/test_block_cases.py, test_block_cases_versions.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from block.test_block_jobs_model import run
from block.test_compress_filter_model import CompressStorage, with_filter
from block.test_data_model import hd
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.profiles import PROFILES

# what a filter (and a raw node over a format node) shows of the node below it
PASSED = ("virtual-size", "cluster-size", "actual-size", "dirty-flag")
QCOW2 = {"driver": "qcow2", "file": {"driver": "file", "filename": "/hd0"}}  # hd0's options, no names


def infos(g: BlockGraph, flat: bool = False) -> dict[str, dict[str, Any]]:
    """Each node's BlockDeviceInfo by name, plain."""
    return {info["node-name"]: info for info in run(g, "query-named-block-nodes", flat=flat)}


def json_name(options: dict[str, Any]) -> str:
    return "json:" + json.dumps(options)


def test_the_filter_is_named_by_its_options_and_shows_its_childs_image() -> None:
    nodes = infos(with_filter())
    c, hd0 = nodes["compress0"], nodes["hd0"]
    name = json_name({"driver": "compress", "file": QCOW2})
    assert (c["file"], c["image"]["filename"]) == (name, name)
    assert (c["drv"], c["image"]["format"]) == ("compress", "compress")
    assert c["backing_file_depth"] == 1 and "backing_file" not in c
    assert c["image"]["backing-image"] == hd0["image"]
    passed = {key: value for key, value in hd0["image"].items() if key in PASSED}
    assert {key: value for key, value in c["image"].items() if key in PASSED} == passed
    assert {"virtual-size", "cluster-size", "dirty-flag"} <= set(passed)
    assert "format-specific" not in c["image"] and "format-specific" in hd0["image"]


def test_flat_leaves_out_the_step_to_the_child() -> None:
    c = infos(with_filter(), flat=True)["compress0"]
    assert c["backing_file_depth"] == 0 and "backing-image" not in c["image"]
    assert c["image"]["virtual-size"] == infos(with_filter())["hd0"]["image"]["virtual-size"]


@pytest.mark.parametrize("file", ["hd0", "compress0"])
def test_a_raw_node_over_qcow2_or_the_filter_is_named_json(file: str) -> None:
    g = with_filter()
    if file == "compress0":  # 245's insertion
        run(g, "blockdev-reopen", options=[{"driver": "raw", "node-name": "hd", "file": file}])
    nodes = infos(g)
    hd_info, below = nodes["hd"], nodes[file]
    inner = QCOW2 if file == "hd0" else {"driver": "compress", "file": QCOW2}
    assert hd_info["file"] == hd_info["image"]["filename"] == json_name({"driver": "raw", "file": inner})
    assert hd_info["backing_file_depth"] == 0
    passed = {key: value for key, value in below["image"].items() if key in PASSED}
    assert hd_info["image"] == {"filename": hd_info["file"], "format": "raw", **passed}
    assert {"virtual-size", "cluster-size", "dirty-flag"} <= set(passed)


def test_the_depth_counts_the_childs_backing_chain() -> None:
    g = BlockGraph(CompressStorage())
    run(g, "blockdev-add", **hd(0))
    run(g, "blockdev-add", **hd(1, backing="hd0"))
    run(g, "blockdev-add", driver="compress", node_name="c", file="hd1")
    c = infos(g)["c"]
    assert c["backing_file_depth"] == 2
    assert c["image"]["backing-image"]["backing-image"]["filename"] == "/hd0"


def test_11_1_lists_the_filters_file_child() -> None:
    g = BlockGraph(CompressStorage(), PROFILES["11.1"])
    run(g, "blockdev-add", **hd(0))
    run(g, "blockdev-add", driver="compress", node_name="c", file="hd0")
    assert infos(g)["c"]["children"] == [{"child": "file", "node-name": "hd0"}]


def abstains(g: BlockGraph) -> str:
    with pytest.raises(NotModelled) as caught:
        run(g, "query-named-block-nodes")
    return str(caught.value)


def test_shapes_not_probed_abstain() -> None:
    old = BlockGraph(CompressStorage(), PROFILES["5.2"])
    run(old, "blockdev-add", **hd(0))
    run(old, "blockdev-add", driver="compress", node_name="c", file="hd0")
    assert "5.2" in abstains(old)
    zeroes = BlockGraph(CompressStorage())
    run(zeroes, "blockdev-add", **hd(0))
    run(zeroes, "blockdev-add", driver="compress", node_name="c", file="hd0", detect_zeroes="on")
    assert "detect-zeroes" in abstains(zeroes)
    window = with_filter()
    run(window, "blockdev-add", driver="raw", node_name="w", file="compress0", offset=512)
    assert "offset or size" in abstains(window)
