"""Predicted values that stand for a few possibilities: an int among some, a node name by its counter."""

from __future__ import annotations

from conformance.compare import qobject_matches_line
from reference.qobject.json_writer import to_json
from reference.qobject.patterns import ANY_INT, Wildcard, auto_node_name, one_of
from reference.qobject.values import QDict


def test_one_of_matches_only_its_values() -> None:
    offset = one_of(524288, 0, 0)
    assert offset == Wildcard("int", (0, 524288))
    predicted = QDict({"offset": offset})
    assert qobject_matches_line(predicted, b'{"offset": 0}')
    assert qobject_matches_line(predicted, b'{"offset": 524288}')
    assert not qobject_matches_line(predicted, b'{"offset": 65536}')
    assert not qobject_matches_line(predicted, b'{"offset": "0"}')
    assert qobject_matches_line(QDict({"offset": ANY_INT}), b'{"offset": 65536}')


def test_one_of_a_single_value_is_that_value() -> None:
    assert one_of(7, 7) == 7


def test_an_auto_node_name_matches_its_counter_and_two_digits() -> None:
    predicted = QDict({"node-name": auto_node_name(12)})
    assert qobject_matches_line(predicted, b'{"node-name": "#block1207"}')
    for other in (b'"#block1307"', b'"#block127"', b'"#block12077"', b'"block1207"', b"1207"):
        assert not qobject_matches_line(predicted, b'{"node-name": ' + other + b"}")
    assert to_json(predicted) == '{"node-name": <#block12 and two random digits>}'
