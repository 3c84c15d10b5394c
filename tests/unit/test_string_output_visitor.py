"""The string output visitor's walk where HMP cannot reach it (unsorted lists, structs,
lists of strings) and the fixture loader's errors. What HMP does print is pinned by
tests/conformance/test_string_output.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.errors import QconformError
from conformance.string_output_cases import load
from reference.qapi.string_output_visitor import (
    ListOf,
    StringOutputAbort,
    format_value,
    parse_spec,
    size_to_str,
)


@pytest.mark.parametrize(
    ("values", "plain"),
    [
        ([5, 0, 1], "0-1,5"),  # the range list sorts
        ([3, 1, 2], "1-3"),  # and merges ranges that touch
        ([7, 7, 7], "7"),
        ([2, 4, 3], "2-4"),
        ([-1, 0], "-1-0"),  # one run: -1 then 0
        ([0, -1], "0,-1"),  # as unsigned, -1 sorts last
    ],
)
def test_integer_lists_collapse_into_sorted_merged_ranges(values: list[int], plain: str) -> None:
    assert format_value(ListOf("int64"), values, human=False) == plain


def test_human_ranges_repeat_in_hex() -> None:
    assert format_value(ListOf("uint16"), [0, 1, 2, 3, 5], human=True) == "0-3,5 (0x0-0x3,0x5)"


def test_a_run_that_wraps_int64_aborts() -> None:
    with pytest.raises(StringOutputAbort):
        format_value(ListOf("int64"), [2**63 - 1, -(2**63)], human=False)


def test_other_lists_join_with_comma_space() -> None:
    assert format_value(ListOf("str"), ["a", "b", "c"], human=True) == '"a", "b", "c"'
    assert format_value(ListOf("size"), [1, 2048], human=True) == "1 (1 B), 2048 (2 KiB)"
    assert format_value(ListOf("bool"), [True], human=False) == "true"
    assert format_value(ListOf("str"), [], human=True) == ""


def test_structs_print_omitted() -> None:
    assert format_value("struct", {"a": 1}, human=True) == "<omitted>"
    assert format_value(ListOf("struct"), [{}, {}], human=False) == "<omitted>, <omitted>"


def test_null_and_numbers() -> None:
    assert format_value("str", None, human=True) == "<null>"
    assert format_value("str", None, human=False) == ""
    assert format_value("null", None, human=True) == "<null>"
    assert format_value("number", 0.1, human=False) == "0.10000000000000001"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "0.977 KiB"), (1023488, "1e+03 KiB"), (2**64 - 1, "16 EiB")],
)
def test_size_to_str(value: int, text: str) -> None:
    assert size_to_str(value) == text


def test_bad_type_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        parse_spec("list<list<int>>")
    with pytest.raises(TypeError):
        format_value("int", "5", human=False)


def test_fixture_errors_are_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "cases.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(QconformError, match=r"cases.json:1: not JSON"):
        load(broken)
    broken.write_text(json.dumps({"batches": [{"id": "x", "machine": "pc", "cases": [{"id": "a"}]}]}))
    with pytest.raises(QconformError, match=r"batches/0/cases/0: 'source' is a required property"):
        load(broken)
    with pytest.raises(QconformError, match="cannot read"):
        load(tmp_path / "missing.json")
