"""QEMU 5.2's double output ("%f" less trailing zeros, then a trailing dot) in the writer and
the monitor. The figures were read off qsd 5.2.0; fixtures/qmp/doubles.json checks them
against every binary."""

from __future__ import annotations

import math

import pytest

from conformance.implementations import INTROSPECTION_DIR
from conformance.snapshots import model_from_file
from reference.profiles import get_profile
from reference.qmp.monitor import QmpConnection
from reference.qmp.outputs import Message
from reference.qobject.json_writer import (
    FixedDouble,
    as_fixed_doubles,
    format_fixed,
    to_json,
    write_iteratively,
)
from reference.qobject.values import FrozenQDict, QDict, QObject


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5, "0.5"),
        (0.0, "0"),
        (-0.0, "-0"),
        (1e-7, "0"),
        (-1e-7, "-0"),
        (100.0, "100"),
        (1e17, "100000000000000000"),
        (0.0078125, "0.007812"),  # an exact tie: to even, as glibc rounds
        (1.5e-6, "0.000002"),
        (9.9999995, "9.999999"),
        (0.9999999, "1"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (-math.nan, "-nan"),
    ],
)
def test_format_fixed(value: float, text: str) -> None:
    assert format_fixed(value) == text


def test_fixed_double_written_by_both_writers() -> None:
    body = QDict({"a": [FixedDouble(2.5e-3), 2.5e-3], "b": FixedDouble(1e300)})
    compact = to_json(body)
    assert compact == write_iteratively(body, pretty=False)
    assert "[0.0025, 0.0025000000000000001]" in compact
    assert '"b": 1000000000000000052504760255204420248704468581108' in compact


def test_as_fixed_doubles_marks_every_double_in_place() -> None:
    inner = QDict({"x": 0.5, "y": 1})
    nested: list[QObject] = [1e-7]
    for _ in range(2000):  # deeper than Python's recursion limit
        nested = [nested]
    body = QDict({"id": [0.25, inner, nested], "return": QDict()})
    orders = body.keys(), inner.keys()
    assert as_fixed_doubles(body) is body
    assert (body.keys(), inner.keys()) == orders  # a replaced value keeps its place
    ident = body.get("id")
    assert isinstance(ident, list)
    assert type(ident[0]) is FixedDouble and type(inner.get("x")) is FixedDouble
    assert type(inner.get("y")) is int
    deepest = ident[2]
    while isinstance(deepest, list) and isinstance(deepest[0], list):
        deepest = deepest[0]
    assert isinstance(deepest, list) and type(deepest[0]) is FixedDouble


def test_as_fixed_doubles_leaves_frozen_answers() -> None:
    frozen = FrozenQDict({"n": 1})
    assert as_fixed_doubles(QDict({"return": frozen})).get("return") is frozen


G17 = "9.9999999999999995e-08"


@pytest.mark.parametrize(("profile", "text"), [("7.2", G17), ("5.2", "0"), ("10.0", G17)])
def test_monitor_writes_the_profiles_doubles(profile: str, text: str) -> None:
    model = model_from_file(INTROSPECTION_DIR / "qsd-7.2.json", get_profile(profile), exact_identity=False)
    conn = QmpConnection(model)
    conn.connect()
    conn.receive(b'{"execute": "qmp_capabilities"}\n')
    (reply,) = conn.receive(b'{"execute": "nope", "id": [1e-7]}\n')
    assert isinstance(reply, Message)
    assert to_json(reply.body).startswith('{"id": [' + text + "]")
