"""block-stream's 'base', 'backing-file' and 'on-error' in the block oracle, offline.

Every expectation was seen on qsd and qemu-system 7.2 first; the same
transcripts run on the binaries as fixtures/block/cases/stream-options.json and
stream-245.json's stream-245-base-filename (tests/block/test_block_cases.py).
Here the storage is fake: hd2 <- hd1 <- hd0 in /img, hd1's header naming hd2
by a relative name, hd0's naming hd1 by its absolute path.
"""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import CLUSTER, SIZE, FakeStorage, events, node, run
from block.test_stream_model import DONE, completed, failure, three
from block.test_stream_model import graph as inline_graph
from reference.block.errors import NotModelled
from reference.block.filenames import display_filename
from reference.block.graph import BlockGraph
from reference.block.storage import ImageFacts


def header(backing_file: str, full: str) -> ImageFacts:
    return ImageFacts(
        "qcow2", SIZE, CLUSTER, backing_file=backing_file, backing_format="qcow2", full_backing_file=full
    )


class HeaderChain(FakeStorage):
    def __init__(self) -> None:
        super().__init__()
        self.files["/img/hd2"] = (True, ImageFacts("qcow2", SIZE, CLUSTER))
        self.files["/img/hd1"] = (True, header("hd2", "/img/hd2"))
        self.files["/img/hd0"] = (True, header("/img/hd1", "/img/hd1"))


def qcow2(index: int) -> dict[str, Any]:
    file = {"driver": "file", "node-name": f"hd{index}-file", "filename": f"/img/hd{index}"}
    return {"driver": "qcow2", "node-name": f"hd{index}", "file": file}


def header_graph(**hd1: Any) -> BlockGraph:
    """hd0 opened from /img/hd0; hd1 given inline ('hd1' named) when asked, else from the header."""
    g = BlockGraph(HeaderChain())
    options = qcow2(0)
    if hd1:
        options["backing"] = qcow2(1)
    run(g, "blockdev-add", **options)
    return g


def base_name(g: BlockGraph) -> str:
    backing = node(g, "hd0").backing
    assert backing is not None
    return display_filename(backing)


@pytest.mark.parametrize("name", ["nope", "/img/hd0", "", "/img/hd1/", "/img/hd1/."])
def test_a_base_naming_no_layers_backing_file_is_not_found(name: str) -> None:
    g = header_graph()
    assert failure(g, "block-stream", job_id="", device="hd0", base=name, speed=-1) == (
        f"Can't find '{name}' in the backing chain"
    )
    assert events(g) == [] and node(g, "hd0").backing is not None


def test_exclusive_pairs_come_first_in_qemus_order() -> None:
    g = header_graph(hd1=True)
    args = {"job_id": "s", "device": "nosuch", "base": "nope"}
    assert failure(g, "block-stream", **args, base_node="hd1", bottom="hd1") == (
        "'base' and 'base-node' cannot be specified at the same time"
    )
    assert failure(g, "block-stream", **args, bottom="hd1") == (
        "'base' and 'bottom' cannot be specified at the same time"
    )
    assert failure(g, "block-stream", **args) == "Cannot find device='nosuch' nor node-name='nosuch'"


def test_backing_file_needs_a_base_and_a_bottom_is_none() -> None:
    g = header_graph(hd1=True)
    entire = "backing file specified, but streaming the entire chain"
    # before the job ID and the speed; after the base-node lookup
    assert failure(g, "block-stream", job_id="", device="hd0", backing_file="foo", speed=-1) == entire
    assert failure(g, "block-stream", job_id="s", device="hd0", bottom="hd1", backing_file="foo") == entire
    assert failure(g, "block-stream", job_id="s", device="hd0", base_node="no", backing_file="f") == (
        "Cannot find device='' nor node-name='no'"
    )
    assert (
        failure(g, "block-stream", job_id="", device="hd0", base="hd2", backing_file="f")
        == "Invalid job ID ''"
    )
    assert events(g) == []


@pytest.mark.parametrize("name", ["/img/hd2", "hd2", "/img/./hd2", "./hd2", "/img//hd2"])
def test_base_matches_the_header_made_absolute(name: str) -> None:
    g = header_graph(hd1=True)
    hd2 = node(g, "hd1").backing
    run(g, "block-stream", job_id="s", device="hd0", base=name)
    assert events(g) == DONE + completed("s")
    hd0 = node(g, "hd0")
    assert g.find("hd1") is None and hd0.backing is hd2 and hd0.auto_backing_file == "/img/hd2"
    assert display_filename(hd0) == "/img/hd0"


def test_the_first_matching_layer_wins_from_the_top() -> None:
    g = header_graph()
    run(g, "block-stream", job_id="s", device="hd0", base="/img/hd1")  # hd0's own backing: nothing to copy
    assert events(g) == DONE + completed("s", 0)
    assert base_name(g) == "/img/hd1"


def test_backing_file_goes_into_the_header_and_the_filename_becomes_json() -> None:
    g = header_graph(hd1=True)
    run(g, "block-stream", job_id="s", device="hd0", base="hd2", backing_file="hd2-copy.img")
    hd0 = node(g, "hd0")
    assert events(g) == DONE + completed("s")
    assert hd0.auto_backing_file == "hd2-copy.img"
    assert display_filename(hd0).startswith('json:{"backing": {"driver": "qcow2"')


def test_nothing_to_stream_still_rewrites_the_header() -> None:
    g = header_graph(hd1=True)
    run(g, "block-stream", job_id="s", device="hd0", base="/img/hd1", backing_file="", auto_finalize=False)
    hd0 = node(g, "hd0")
    assert hd0.auto_backing_file == "/img/hd1"  # not before job-finalize
    run(g, "job-finalize", id="s")
    assert hd0.auto_backing_file == "" and display_filename(hd0).startswith("json:")
    # the header names nothing now: 'base' must be hd1's filename exactly
    refused = failure(g, "block-stream", job_id="s", device="hd0", base="hd1")
    assert refused == "Can't find 'hd1' in the backing chain"
    events(g)
    run(g, "block-stream", job_id="s", device="hd0", base="/img/hd1")
    assert events(g) == DONE + completed("s", 0)
    assert display_filename(hd0) == "/img/hd0"


def test_an_inline_chain_compares_the_backing_nodes_filename() -> None:
    g = inline_graph(three())  # no header names a backing file: hd1's filename is a json: one
    refused = failure(g, "block-stream", job_id="s", device="hd0", base="/hd1")
    assert refused == "Can't find '/hd1' in the backing chain"
    run(g, "block-stream", job_id="s", device="hd0", base="/hd2")
    assert events(g) == DONE + completed("s")
    assert node(g, "hd0").backing is node(g, "hd2") and display_filename(node(g, "hd0")) == "/hd0"


@pytest.mark.parametrize("on_error", ["report", "stop", "enospc", "ignore"])
def test_on_error_changes_nothing_on_a_healthy_chain(on_error: str) -> None:
    g = inline_graph(three())
    run(g, "block-stream", job_id="s", device="hd0", base_node="hd2", on_error=on_error)
    assert events(g) == DONE + completed("s")
    assert node(g, "hd0").backing is node(g, "hd2")


@pytest.mark.parametrize("name", ["file:/img/hd2", "/img/x/../hd1"])
def test_a_protocol_prefix_or_a_folder_that_may_not_exist_abstains(name: str) -> None:
    g = header_graph()
    with pytest.raises(NotModelled):
        run(g, "block-stream", job_id="s", device="hd0", base=name)
