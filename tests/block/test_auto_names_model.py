"""The #block counter in the model (pinned on qsd 7.2 by fixtures/block/cases/job-auto-names.json):
every unnamed node takes the next number, and so does each filter node a job inserts."""

from __future__ import annotations

from typing import Any

import pytest

from block.test_block_jobs_model import error, node, run, three_layers
from reference.block.errors import BlockError
from reference.block.graph import BlockGraph
from reference.block.query import shown_name
from reference.qobject.patterns import ANY_STRING, auto_node_name


def probe(g: BlockGraph, name: str) -> Any:
    """A raw node over an unnamed file node: the number the file took."""
    run(g, "blockdev-add", driver="raw", node_name=name, read_only=True,
        file={"driver": "file", "filename": "/solo"})  # fmt: skip
    file = node(g, name).file_child
    assert file is not None
    return shown_name(file)


def test_named_nodes_take_no_number_unnamed_ones_count_from_zero() -> None:
    g = three_layers()
    assert probe(g, "p0") == auto_node_name(0)
    assert probe(g, "p1") == auto_node_name(1)
    assert shown_name(node(g, "p1")) == "p1"


def test_a_failed_add_keeps_the_number_its_file_took() -> None:
    g = three_layers()
    with pytest.raises(BlockError):
        run(g, "blockdev-add", driver="raw", node_name="q", file={"driver": "file", "filename": "/missing"})
    assert probe(g, "p") == auto_node_name(1)


def test_a_non_active_commit_takes_one_for_its_commit_top_unless_named_or_refused() -> None:
    g = three_layers()
    assert error(g, "block-commit", job_id="j", device="over", top_node="top", base_node="b", speed=-1)[
        1
    ] == ("Parameter 'speed' expects a non-negative value")
    assert probe(g, "p0") == auto_node_name(0)  # refused before the filter was made
    run(g, "block-commit", job_id="j", device="over", top_node="top", base_node="b")
    assert probe(g, "p1") == auto_node_name(2)


def test_a_named_commit_top_takes_no_number() -> None:
    g = three_layers()
    run(g, "block-commit", job_id="j", device="over", top_node="top", base_node="b", filter_node_name="f")
    assert probe(g, "p") == auto_node_name(0)


def test_a_stream_takes_one_for_its_copy_on_read_even_when_its_speed_is_refused() -> None:
    g = three_layers()
    assert error(g, "block-stream", job_id="s", device="over", speed=-1)[1] == (
        "Parameter 'speed' expects a non-negative value"
    )
    assert probe(g, "p") == auto_node_name(1)


def test_names_learnt_from_qemu_are_not_predicted_by_counter() -> None:
    from reference.block.drive import adopt_names

    g = three_layers()
    probe(g, "p")
    file = node(g, "p").file_child
    assert file is not None
    adopt_names(g, {file.name: "#block042"})
    assert shown_name(file) is ANY_STRING
