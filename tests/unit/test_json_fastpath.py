"""The streamer's shortcut must give exactly what QEMU's lexer and parser give."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from reference.qobject.json_fastpath import parse_plain_object
from reference.qobject.json_lexer import JsonLexer
from reference.qobject.json_streamer import JsonMessage, JsonStreamer, ParsedValue
from reference.qobject.json_writer import to_json
from reference.qobject.values import QDict


def slow_path(data: bytes) -> list[JsonMessage]:
    streamer = JsonStreamer()
    out: list[JsonMessage] = []
    for token in JsonLexer().feed(data):
        streamer._process(token, out)  # bypass the shortcut: QEMU's own path only
    return out


def same(data: bytes) -> None:
    fast = parse_plain_object(data)
    if fast is None:
        return
    slow = slow_path(data)
    assert len(slow) == 1 and isinstance(slow[0], ParsedValue), (data, slow)
    assert to_json(slow[0].value) == to_json(fast), data
    assert isinstance(slow[0].value, QDict) and slow[0].value.keys() == fast.keys()


def test_plain_request_takes_the_shortcut() -> None:
    assert parse_plain_object(b'{"execute": "query-version", "id": null}\n') is not None


def test_what_the_shortcut_refuses() -> None:
    for data in [b'{"a": 1, "a": 2}', b'{"a": NaN}', b"{'a': 1}", b'{"a": "\\u00e9"}', b'{"a": 1}{"b": 2}',
                 b'{"a": "\xc3\xa9"}', b"[1]", b'{"a": 01}', b'{"a": 1', b'{"a": Infinity}',
                 b'{"a": 0e16}', b'{"a": -0E1}']:  # fmt: skip
        assert parse_plain_object(data) is None, data


def test_numbers_keep_qemu_kinds() -> None:
    data = b'{"a": 18446744073709551615, "b": 18446744073709551616, "c": -0, "d": 1.0}'
    fast = parse_plain_object(data)
    (slow,) = slow_path(data)
    assert fast is not None and isinstance(slow, ParsedValue)
    assert (
        to_json(fast)
        == to_json(slow.value)
        == '{"d": 1, "a": 18446744073709551615, "b": 1.8446744073709552e+19, "c": 0}'
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(st.text(max_size=5), json_values, max_size=4), st.sampled_from([(",", ":"), (", ", ": ")])
)
def test_generated_objects_agree(obj: dict[str, object], separators: tuple[str, str]) -> None:
    same(json.dumps(obj, separators=separators, ensure_ascii=True).encode() + b"\n")


@given(st.binary(max_size=40).map(lambda b: b'{"k": ' + b + b"}"))
def test_generated_bytes_agree(data: bytes) -> None:
    same(data)


# JSON's number grammar piece by piece (Python's encoder never writes "0e16", which QEMU's lexer
# splits; the fuzzer found that the shortcut took it whole).
json_numbers = st.builds(
    lambda sign, whole, frac, exp: sign + whole + frac + exp,
    st.sampled_from(["", "-"]),
    st.sampled_from(["0", "1", "9", "10", "123"]),
    st.sampled_from(["", ".0", ".5", ".25"]),
    st.sampled_from(["", "e1", "E1", "e+2", "E-3", "e16", "e0", "E+0"]),
)


@given(st.lists(json_numbers, min_size=1, max_size=4))
def test_generated_numbers_agree(numbers: list[str]) -> None:
    same(('{"k": [' + ", ".join(numbers) + "]}\n").encode())
