"""The block section of the results file and its Markdown tables, without binaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.block.fixture import load
from conformance.block.records import CellRecord, cell_id
from conformance.errors import QconformError
from conformance.report import render_markdown
from conformance.results import block_section, read_results, results_document


def _cell(impl: str, status: str, observed: str, known: dict[str, str] | None = None) -> dict[str, Any]:
    cell = {"driver": "raw", "storage": "read-only-mount", "read-only": "off", "auto-read-only": "off",
            "front end": "blockdev-add"}  # fmt: skip
    predicted = "error: Could not open '/tmp/qcf-blk-abc/ro/raw.img': Read-only file system"
    reproducer = ["# storage", '{"execute": "blockdev-add"}']
    record = CellRecord("seed", cell_id("seed", cell), impl, "7.2.22", cell, predicted, observed, status,
                        "expected X observed Y", reproducer, known)  # fmt: skip
    return record.to_json()


def _document(cells: list[dict[str, Any]]) -> dict[str, Any]:
    document = results_document([], [], [], "2026-11-26T00:00:00+00:00", 1.0)
    document["block"] = block_section(
        cells, [{"implementation": "qsd@sid", "family": "seed", "reason": "why"}]
    )
    return document


def test_a_row_per_cell_with_the_prediction_and_each_verdict() -> None:
    markdown = render_markdown(
        _document([_cell("qsd", "pass", "same"), _cell("qemu-system", "diverge", "read-write")])
    )
    row = next(line for line in markdown.splitlines() if line.startswith("| raw | read-only-mount"))
    # Temporary folders are shortened; the diverging implementation links to its reproducer.
    assert "Could not open 'raw.img': Read-only file system" in row
    assert "| agree | [diverge](#block-1): read-write |" in row
    assert '<a id="block-1"></a>' in markdown and '{"execute": "blockdev-add"}' in markdown
    assert "not run on **qsd@sid** (seed): why" in markdown
    assert "| seed | qemu-system | 1 | 0 | 1 | 0 |" in markdown


def test_a_recorded_divergence_says_so() -> None:
    known = {"kind": "implementation-bug", "reason": "a reason"}
    markdown = render_markdown(_document([_cell("qsd", "diverge", "read-write", known)]))
    assert "[known implementation-bug](#block-1)" in markdown and "a reason" in markdown


def test_results_file_round_trip_and_a_broken_block_section(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_document([_cell("qsd", "pass", "x")])), encoding="utf-8")
    assert read_results(path)["block"]["cells"][0]["implementation"] == "qsd"
    broken = _document([])
    broken["block"] = []
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(QconformError, match="'block' must be an object"):
        read_results(path)


def test_a_broken_block_fixture_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "seed.json"
    bad.write_text('{"group": "x", "images": [], "cases": [{"id": 1}]}', encoding="utf-8")
    with pytest.raises(QconformError) as err:
        load(bad)
    assert "\n" not in str(err.value) and str(bad) in str(err.value)
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(QconformError, match="not JSON"):
        load(bad)
