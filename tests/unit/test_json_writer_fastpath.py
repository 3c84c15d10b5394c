"""The compact writer's recursive path must write what the iterative writer writes, byte for byte."""

from __future__ import annotations

import enum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.qobject import json_writer
from reference.qobject.json_writer import FAST_DEPTH, to_json, write_iteratively
from reference.qobject.patterns import ANY_INT, ANY_OBJECT, ANY_STRING
from reference.qobject.values import FrozenQDict, QDict, QObject, qnull


class Text(str):
    pass


class Number(enum.IntEnum):
    ONE = 1


class Items(list[QObject]):
    pass


class Members(QDict):
    pass


def qdict(pairs: list[tuple[str, QObject]]) -> QDict:
    d = QDict()
    for key, value in pairs:  # repeated keys replace values in place, as put() does
        d.put(key, value)
    return d


keys = st.text(max_size=6) | st.sampled_from(["file", "node-name", "ro", "drv", "image", "a\x00b", "é"])
scalars = (
    st.none().map(lambda _: qnull)
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([0, 1, Number.ONE])
    | st.floats()
    | st.text()
    | st.sampled_from(["", "plain", 'q"uote', "back\\slash", "\x7f", "\ud800", "\U0001f600", Text("sub")])
    | st.sampled_from([ANY_INT, ANY_STRING, ANY_OBJECT])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=2).map(Items)
        | st.lists(st.tuples(keys, inner), max_size=5).map(qdict)
        | st.lists(st.tuples(keys, inner), max_size=2).map(lambda pairs: Members(dict(pairs)))
        | st.lists(st.tuples(keys, inner), max_size=4).map(lambda pairs: FrozenQDict(dict(pairs)))
    ),
    max_leaves=25,
)


@settings(max_examples=150)
@given(st.lists(st.tuples(keys, values), max_size=6).map(qdict) | st.lists(values, max_size=4))
def test_recursive_path_writes_what_the_iterative_writer_writes(value: QDict | list[QObject]) -> None:
    assert to_json(value) == write_iteratively(value, pretty=False)
    # Again, now with the FrozenQDicts' kept texts (shared ones appear twice in a list).
    assert to_json([value, value]) == write_iteratively([value, value], pretty=False)


def nested(depth: int) -> QDict | list[QObject]:
    value: QDict | list[QObject] = ["leaf"]
    for level in range(depth - 1):
        value = QDict({"d": value}) if level % 2 else [value]
    return value


def test_depths_around_the_recursion_limit_agree() -> None:
    for depth in (FAST_DEPTH - 2, FAST_DEPTH + 1, FAST_DEPTH + 3, 1100):
        value = nested(depth)
        text = to_json(value)
        assert text == write_iteratively(value, pretty=False)
        assert text.count("leaf") == 1 and len(text) > depth


def test_a_written_dict_changed_afterwards_is_written_anew() -> None:
    d = QDict({"return": QDict({"a": 1})})
    assert to_json(d) == '{"return": {"a": 1}}'
    inner = d.get("return")
    assert isinstance(inner, QDict)
    inner.put("b", "x")
    inner.put("a", 2)
    d.put("id", "i")
    # "a" and "b" in QEMU's bucket order (a before b), "return" before "id".
    assert to_json(d) == '{"return": {"a": 2, "b": "x"}, "id": "i"}' == write_iteratively(d, pretty=False)
    inner.delete("a")
    assert to_json(d) == '{"return": {"b": "x"}, "id": "i"}'


def test_remembered_strings_stay_right_past_the_limit() -> None:
    texts: list[QObject] = [f"s{i}\x01" for i in range(json_writer._QUOTED_LIMIT + 10)]
    written = to_json(texts)
    assert written == write_iteratively(texts, pretty=False)
    assert len(json_writer._quoted) <= json_writer._QUOTED_LIMIT
    assert written.startswith('["s0\\u0001", "s1\\u0001"')


def test_a_frozen_dict_keeps_its_text_and_refuses_changes() -> None:
    inner = FrozenQDict({"b": "x", "a": 1})
    outer = QDict({"return": [inner, inner], "id": "i"})
    text = to_json(outer)
    assert text == '{"return": [{"a": 1, "b": "x"}, {"a": 1, "b": "x"}], "id": "i"}'
    assert inner.text == '{"a": 1, "b": "x"}'
    assert to_json(inner) == inner.text
    assert to_json(inner, pretty=True) == write_iteratively(inner, pretty=True)
    with pytest.raises(TypeError):
        inner.put("c", 2)
    with pytest.raises(TypeError):
        inner.delete("a")


def test_a_frozen_dict_first_written_too_deep_is_written_right_later() -> None:
    frozen = FrozenQDict({"leaf": nested(3)})
    deep: list[QObject] = [frozen]
    for _ in range(FAST_DEPTH + 4):
        deep = [deep]
    assert to_json(deep) == write_iteratively(deep, pretty=False)
    assert frozen.text is None  # the iterative writer wrote it: nothing kept
    assert to_json(frozen) == '{"leaf": {"d": [["leaf"]]}}' == frozen.text
    assert to_json(deep) == write_iteratively(deep, pretty=False)
