"""Visitors over values generated from qsd 7.2's schema: output, clone and dealloc.

- input-visit then output-visit gives back the arguments (numbers as doubles);
- QAPI_CLONE equals its source and shares none of its structs, lists or
  alternates, or aborts exactly when the value holds an 'any';
- the dealloc visitor frees every partly built value a failed input visit
  leaves (generate.py's invalid mutations), each allocation exactly once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from conformance.generate import ArgumentGenerator
from reference.profiles import get_profile
from reference.qapi.clone_visitor import CloneAbort, qapi_clone
from reference.qapi.dealloc_visitor import qapi_free
from reference.qapi.input_visitor import UNVISITED_COMMANDS, InputVisitor, VisitAbstains, VisitError
from reference.qapi.introspection import load_schema
from reference.qapi.output_visitor import output_visit
from reference.qapi.qapi_values import (
    Alternate,
    AnyValue,
    Struct,
    alternate_branch,
    containers,
    struct_members,
)
from reference.qmp.snapshot import to_qobject
from reference.qobject.values import QDict, QNull

SNAPSHOT = Path(__file__).resolve().parents[2] / "fixtures" / "introspection" / "qsd-7.2.json"
SCHEMA = load_schema(json.loads(SNAPSHOT.read_text())["query-qmp-schema"])
GENERATOR = ArgumentGenerator(SCHEMA)
VISITOR = InputVisitor(SCHEMA, get_profile("7.2"))
COMMANDS = sorted(c for c in SCHEMA.commands if c not in UNVISITED_COMMANDS)


def plain(value: Any) -> Any:
    """A QObject as plain JSON-like Python values, for comparing."""
    if isinstance(value, QDict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return None if isinstance(value, QNull) else value


def holds_any(type_name: str, value: Any) -> bool:
    info = SCHEMA.type(type_name)
    if value is None:
        return False
    if info.meta == "object":
        return any(
            holds_any(m.type, value.members[m.name])
            for m in struct_members(SCHEMA, info, value)
            if m.name in value.members
        )
    if info.meta == "array":
        return any(holds_any(info.element, item) for item in value)
    if info.meta == "alternate":
        branch = alternate_branch(SCHEMA, info, value)
        return branch is not None and holds_any(branch, value.value)
    return info.meta == "builtin" and info.json_type == "value"


def build(command: str, arguments: dict[str, Any]) -> Any:
    try:
        return VISITOR.build(SCHEMA.commands[command].arg_type, to_qobject(arguments))
    except VisitAbstains:
        assume(False)  # masked integer types: the oracle does not know what QEMU builds


@given(st.data())
def test_input_then_output_gives_the_arguments_back(data: st.DataObject) -> None:
    command = data.draw(st.sampled_from(COMMANDS))
    generated = data.draw(GENERATOR.arguments(command, valid=True))
    built = build(command, generated.arguments)
    assert isinstance(built, Struct)
    out = output_visit(SCHEMA, SCHEMA.commands[command].arg_type, built)
    assert plain(out) == generated.arguments


@given(st.data())
def test_clone_equals_and_shares_nothing_mutable(data: st.DataObject) -> None:
    command = data.draw(st.sampled_from(COMMANDS))
    arg_type = SCHEMA.commands[command].arg_type
    built = build(command, data.draw(GENERATOR.arguments(command, valid=True)).arguments)
    if holds_any(arg_type, built):
        try:
            qapi_clone(SCHEMA, arg_type, built)
        except CloneAbort:
            return
        raise AssertionError("cloning an 'any' must abort")
    copy = qapi_clone(SCHEMA, arg_type, built)
    assert copy == built
    original_ids = {id(node) for node in containers(built)}
    assert not original_ids & {id(node) for node in containers(copy)}


@given(st.data())
def test_dealloc_frees_every_partly_built_value_once(data: st.DataObject) -> None:
    command = data.draw(st.sampled_from(COMMANDS))
    generated = data.draw(GENERATOR.arguments(command, valid=False))
    try:
        VISITOR.build(SCHEMA.commands[command].arg_type, to_qobject(generated.arguments))
    except VisitAbstains:
        assume(False)
    except VisitError as err:
        partial = err.partial
    else:
        raise AssertionError(f"{generated.mutations} should have been rejected")
    assert isinstance(partial, Struct)
    freed = qapi_free(SCHEMA, SCHEMA.commands[command].arg_type, partial)
    assert sorted(map(id, freed)) == sorted(map(id, containers(partial)))
    assert all(isinstance(node, (Struct, Alternate, list, AnyValue)) for node in freed)
