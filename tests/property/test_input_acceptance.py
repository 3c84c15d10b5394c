"""The input visitor's quick yes agrees with its exact walk, both ways.

Acceptance (reference/qapi/input_acceptance.py) says yes only where the exact
visitor accepts without error or abstention; and where the visitor accepts,
it must say yes too, or the shortcut buys nothing. Arguments come from
conformance.generate (valid ones, and invalid mutations of them) over the
7.2, 10.0 and 11.1 schemas, plus hand-picked values at its edges.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.generate import ArgumentGenerator
from reference.profiles import get_profile
from reference.qapi.input_acceptance import Acceptance
from reference.qapi.input_visitor import UNVISITED_COMMANDS, InputVisitor, VisitAbstains, VisitError
from reference.qapi.introspection import Schema, load_schema
from reference.qmp.snapshot import to_qobject
from reference.qobject.values import QDict, QObject, qnull

INTROSPECTION = Path(__file__).resolve().parents[2] / "fixtures" / "introspection"
SNAPSHOTS = ["qsd-7.2.json", "qemu-system-7.2.json", "qsd-10.0.json", "qsd-11.1.json"]


@cache
def schema(snapshot: str) -> Schema:
    return load_schema(json.loads((INTROSPECTION / snapshot).read_text())["query-qmp-schema"])


def exact_accepts(schema: Schema, type_name: str, value: QObject) -> bool:
    try:
        InputVisitor(schema, get_profile("7.2")).build(type_name, value)  # the walk, no shortcut
    except (VisitError, VisitAbstains):
        return False
    return True


def agree(schema: Schema, type_name: str, value: QObject) -> None:
    expected = exact_accepts(schema, type_name, value)
    assert Acceptance(schema).accepts(type_name, value) is expected, (type_name, value)


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
@given(data=st.data())
def test_acceptance_agrees_with_the_visitor(snapshot: str, data: st.DataObject) -> None:
    found = schema(snapshot)
    command = data.draw(st.sampled_from(sorted(c for c in found.commands if c not in UNVISITED_COMMANDS)))
    generated = data.draw(ArgumentGenerator(found).arguments(command))
    arguments = to_qobject(generated.arguments)
    agree(found, found.commands[command].arg_type, arguments)


def blockdev_add(**members: Any) -> QObject:
    return to_qobject({k.replace("_", "-"): v for k, v in members.items()})


EDGES: list[tuple[str, QObject]] = [
    ("blockdev-add", blockdev_add(driver="file", node_name="f", filename="/x")),
    ("blockdev-add", blockdev_add(driver="file", filename="/x", nope=1)),  # unexpected
    ("blockdev-add", blockdev_add(driver="file")),  # the branch's required member missing
    ("blockdev-add", blockdev_add(driver="nope", filename="/x")),  # a tag outside the enum
    ("blockdev-add", blockdev_add(driver=5, filename="/x")),  # a tag of the wrong type
    ("blockdev-add", blockdev_add(driver="raw", file="f")),  # BlockdevRef: the string branch
    ("blockdev-add", blockdev_add(driver="raw", file={"driver": "file", "filename": "/x"})),
    ("blockdev-add", blockdev_add(driver="raw", file=5)),  # no branch takes a number: abstains
    ("blockdev-add", blockdev_add(driver="qcow2", file="f", backing=None)),  # BlockdevRefOrNull's null
    ("blockdev-add", blockdev_add(driver="raw", file="f", read_only=1)),  # an int for a bool
    ("blockdev-add", blockdev_add(driver="raw", file="f", offset=127)),  # a small int
    ("blockdev-add", blockdev_add(driver="raw", file="f", offset=128)),  # masked C type: abstains
    ("blockdev-add", blockdev_add(driver="raw", file="f", offset=-1)),
    ("blockdev-add", blockdev_add(driver="raw", file="f", offset=True)),
    ("blockdev-add", blockdev_add(driver="raw", file="f", offset=1.0)),
    ("blockdev-add", blockdev_add(driver="throttle", file="f", throttle_group="g")),
    ("blockdev-reopen", to_qobject({"options": [{"driver": "raw", "node-name": "r", "file": "f"}]})),
    ("blockdev-reopen", to_qobject({"options": {"driver": "raw"}})),  # an object for a list
    ("qmp_capabilities", to_qobject({"enable": ["oob"]})),
    ("qmp_capabilities", to_qobject({"enable": ["oob", "x"]})),
    ("query-version", QDict()),
    ("query-version", QDict({"a": qnull})),
]


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
@pytest.mark.parametrize(("command", "arguments"), EDGES)
def test_acceptance_at_the_edges(snapshot: str, command: str, arguments: QObject) -> None:
    found = schema(snapshot)
    agree(found, found.commands[command].arg_type, arguments)


def test_valid_block_arguments_take_the_shortcut() -> None:
    found = schema("qsd-7.2.json")
    arg_type = found.commands["blockdev-add"].arg_type
    assert Acceptance(found).accepts(arg_type, blockdev_add(driver="raw", file="f", offset=4))
    assert not Acceptance(found).accepts(arg_type, blockdev_add(driver="raw", file="f", offset=400))
