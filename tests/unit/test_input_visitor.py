"""The strict QObject input visitor, driven by the qsd 7.2 introspection snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reference.profiles import get_profile
from reference.qapi.input_visitor import InputVisitor, VisitAbstains, VisitError
from reference.qapi.introspection import Schema, load_schema
from reference.qmp.snapshot import to_qobject
from reference.qobject.values import QDict

SNAPSHOT = Path(__file__).resolve().parents[2] / "fixtures" / "introspection" / "qsd-7.2.json"


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(json.loads(SNAPSHOT.read_text())["query-qmp-schema"])


def errors(schema: Schema, command: str, args: dict[str, object]) -> set[str]:
    visitor = InputVisitor(schema, get_profile("7.2"))
    arguments = to_qobject(args)
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
