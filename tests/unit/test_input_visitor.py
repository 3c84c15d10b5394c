"""The strict QObject input visitor, driven by the qsd 7.2 introspection snapshot."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from reference.profiles import get_profile
from reference.qapi.input_visitor import UNVISITED_COMMANDS, InputVisitor, VisitAbstains, VisitError
from reference.qapi.introspection import Schema, load_schema
from reference.qmp.snapshot import to_qobject
from reference.qobject.values import QDict

SNAPSHOT = Path(__file__).resolve().parents[2] / "fixtures" / "introspection" / "qsd-7.2.json"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(json.loads(SNAPSHOT.read_text())["query-qmp-schema"])


def errors(schema: Schema, command: str, args: Mapping[str, object]) -> set[str]:
    visitor = InputVisitor(schema, get_profile("7.2"))
    arguments = to_qobject(dict(args))
    assert isinstance(arguments, QDict)
    try:
        visitor.check_arguments(schema.commands[command].arg_type, arguments)
    except VisitError as err:
        return set(err.messages)
    return set()


def test_no_arguments_accepts_empty(schema: Schema) -> None:
    assert errors(schema, "query-version", {}) == set()


def test_unexpected_member_lists_every_candidate(schema: Schema) -> None:
    assert errors(schema, "query-version", {"a": 1, "b": 2}) == {
        "Parameter 'a' is unexpected",
        "Parameter 'b' is unexpected",
    }


def test_enum_in_list_names_null(schema: Schema) -> None:
    assert errors(schema, "qmp_capabilities", {"enable": ["oob", "x"]}) == {
        "Parameter 'null' does not accept value 'x'"
    }


def test_list_item_type_error_names_the_path(schema: Schema) -> None:
    assert errors(schema, "qmp_capabilities", {"enable": [1]}) == {
        "Invalid parameter type for 'enable[0]', expected: string"
    }


def test_missing_member_before_unexpected(schema: Schema) -> None:
    assert errors(schema, "blockdev-del", {"zzz": 1}) == {"Parameter 'node-name' is missing"}


def test_large_integer_abstains(schema: Schema) -> None:
    visitor = InputVisitor(schema, get_profile("7.2"))
    args = to_qobject({"device": "d", "speed": 2**63})
    assert isinstance(args, QDict)
    with pytest.raises(VisitAbstains):
        visitor.check_arguments(schema.commands["block-job-set-speed"].arg_type, args)


# Facts below were checked on qemu-storage-daemon 7.2.22 (replies quoted).


def verdict(schema: Schema, command: str, args: Mapping[str, object]) -> set[str] | str:
    """The error set, or "abstains"."""
    try:
        return errors(schema, command, args)
    except VisitAbstains:
        return "abstains"


@pytest.mark.parametrize(
    "speed",
    [
        "s",  # int64 says "expected: integer", uint64 "Parameter 'speed' expects uint64"
        1.5,
        True,
        None,
        -1,  # int64 takes it, uint64 wraps it, uint32 says "expects uint32_t"
        128,  # int8 says "Parameter 'speed' expects int8_t"
        2**63,  # int64: "expected: integer"; uint64 takes it
        2**64,  # a double to QEMU: the type error again, worded by signedness
        -(2**63) - 1,
    ],
)
def test_integer_verdicts_need_the_masked_type(schema: Schema, speed: object) -> None:
    assert verdict(schema, "block-job-set-speed", {"device": "d", "speed": speed}) == "abstains"


@pytest.mark.parametrize("speed", [0, 1, 127])
def test_integers_every_int_type_accepts(schema: Schema, speed: int) -> None:
    assert errors(schema, "block-job-set-speed", {"device": "d", "speed": speed}) == set()


@pytest.mark.parametrize(
    ("key", "path"),
    [("", ""), (".x", ".x"), ('é"', 'é"')],  # full_name_nth() erases exactly one leading dot
)
def test_unexpected_key_rendering(schema: Schema, key: str, path: str) -> None:
    assert errors(schema, "query-version", {key: 1}) == {f"Parameter '{path}' is unexpected"}


@pytest.mark.parametrize(("key", "path"), [("", "file."), (".y", "file..y"), ("zz", "file.zz")])
def test_nested_unexpected_key_rendering(schema: Schema, key: str, path: str) -> None:
    args = {"driver": "qcow2", "node-name": "n", "file": {"driver": "file", "filename": "/x", key: 1}}
    assert errors(schema, "blockdev-add", args) == {f"Parameter '{path}' is unexpected"}


def test_alternate_without_a_matching_branch_abstains(schema: Schema) -> None:
    # Qcow2OverlapChecks' name is masked and not known by its branches.
    args = {"driver": "qcow2", "node-name": "n", "file": "f", "overlap-check": 5}
    assert verdict(schema, "blockdev-add", args) == "abstains"


@pytest.mark.parametrize("value", [5, None, True, ["f"]])
def test_blockdev_ref_type_error_names_the_bare_member(schema: Schema, value: object) -> None:
    # iotest 245 (reopen with file: null): the bare name, the alternate's own name
    wanted = {"Invalid parameter type for 'file', expected: BlockdevRef"}
    assert errors(schema, "blockdev-add", {"driver": "qcow2", "node-name": "n", "file": value}) == wanted
    nested = {"options": [{"driver": "raw", "node-name": "n", "file": {"driver": "raw", "file": value}}]}
    assert errors(schema, "blockdev-reopen", nested) == wanted


def test_blockdev_ref_or_null_takes_null_and_names_itself(schema: Schema) -> None:
    args: dict[str, object] = {"driver": "qcow2", "node-name": "n", "file": "f", "backing": None}
    assert errors(schema, "blockdev-add", args) == set()
    args["backing"] = 5
    assert errors(schema, "blockdev-add", args) == {
        "Invalid parameter type for 'backing', expected: BlockdevRefOrNull"
    }


def test_alternate_enum_branch_names_the_bare_member(schema: Schema) -> None:
    args = {"driver": "qcow2", "file": "f", "node-name": "n", "overlap-check": "zz"}
    assert errors(schema, "blockdev-add", args) == {"Parameter 'overlap-check' does not accept value 'zz'"}


def test_nested_enum_names_the_bare_member(schema: Schema) -> None:
    args = {"driver": "qcow2", "file": "f", "node-name": "n", "overlap-check": {"template": "zz"}}
    assert errors(schema, "blockdev-add", args) == {"Parameter 'template' does not accept value 'zz'"}
    assert errors(
        schema, "blockdev-add", {"driver": "qcow2", "node-name": "n", "file": {"driver": "zz"}}
    ) == {"Parameter 'driver' does not accept value 'zz'"}


def test_nested_type_error_names_the_full_path(schema: Schema) -> None:
    args = {"driver": "qcow2", "node-name": "n", "file": {"driver": 5}}
    assert errors(schema, "blockdev-add", args) == {
        "Invalid parameter type for 'file.driver', expected: string"
    }


def test_list_element_paths(schema: Schema) -> None:
    base = {"node": "n", "target": "t"}
    assert errors(schema, "block-dirty-bitmap-merge", {**base, "bitmaps": ["a", {"node": "x"}]}) == {
        "Parameter 'bitmaps[1].name' is missing"
    }
    assert errors(
        schema, "block-dirty-bitmap-merge", {**base, "bitmaps": [{"node": "x", "name": "y", "z": 1}]}
    ) == {"Parameter 'bitmaps[0].z' is unexpected"}


def test_flat_union_variant_members(schema: Schema) -> None:
    assert errors(schema, "transaction", {"actions": [{"type": "abort", "data": {"x": 1}}]}) == {
        "Parameter 'actions[0].data.x' is unexpected"
    }
    assert errors(schema, "transaction", {"actions": [{"type": "abort"}]}) == {
        "Parameter 'actions[0].data' is missing"
    }
    assert errors(schema, "transaction", {"actions": [{"type": "zz"}]}) == {
        "Parameter 'type' does not accept value 'zz'"
    }


def test_gen_false_commands_are_listed() -> None:
    # qemu-system 7.2 answers device_add {"driver": 5} with "'5' is not a valid device model name".
    assert "device_add" in UNVISITED_COMMANDS
