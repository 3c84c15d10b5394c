"""QEMU 7.2's JSON dialect: lexer, streamer, parser and writer.

The stream vectors were checked against qemu-storage-daemon 7.2.22: each
expected entry is what one reply carries, either the parsed value as QEMU
writes it back or the error text ("!" prefix).
"""

from __future__ import annotations

import random

import pytest

from reference.qobject import json_lexer, json_streamer
from reference.qobject.json_lexer import (
    DQ_STRING,
    END_OF_INPUT,
    ERROR,
    FLOAT,
    INTEGER,
    KEYWORD_TOKEN,
    LOOKAHEAD,
    OVERSIZED,
    RECOVERY,
    START,
    STRING,
    TABLE,
    JsonLexer,
    Token,
)
from reference.qobject.json_parser import decode_lossy, mod_utf8_codepoint, parse_number, parse_string
from reference.qobject.json_streamer import JsonMessage, JsonStreamer, ParsedValue, ParseError
from reference.qobject.json_writer import format_double, quote, to_json
from reference.qobject.values import QDict, QObject, qnull

P = "!JSON parse error, "


def render(messages: list[JsonMessage]) -> list[str]:
    return [to_json(m.value) if isinstance(m, ParsedValue) else "!" + m.desc for m in messages]


def stream(data: bytes) -> list[str]:
    return render(JsonStreamer().feed(data))


STREAM_VECTORS: list[tuple[bytes, list[str]]] = [
    # values
    (b'{"a": 1}', ['{"a": 1}']),
    (b"{}", ["{}"]),
    (b"[]", ["[]"]),
    (b"42 ", ["42"]),
    (b"true null false ", ["true", "null", "false"]),
    (b'"abc" ', ['"abc"']),
    (b"'abc' ", ['"abc"']),
    (b"'a\"b' ", ['"a\\"b"']),
    (b'"c\\\'d" ', ['"c\'d"']),
    (b'{"b": 1, "a": [true, null], "c": {"d": 2.5}}', ['{"a": [true, null], "b": 1, "c": {"d": 2.5}}']),
    (b'[1, "a", [], {}, null]', ['[1, "a", [], {}, null]']),
    (b' \t\r\n{ \t"a"\r\n:\t[ 1 , 2 ] }', ['{"a": [1, 2]}']),
    (b'{"a":1}{"a":2}', ['{"a": 1}', '{"a": 2}']),
    # strings and escapes
    (b'"q\\" b\\\\ s\\/ \\b\\f\\n\\r\\t" ', ['"q\\" b\\\\ s/ \\b\\f\\n\\r\\t"']),
    (b'"\\u0001\\u001f\\u007f\\u0080\\u00e9\\uFFFD" ', ['"\\u0001\\u001F\\u007F\\u0080\\u00E9\\uFFFD"']),
    ('"é€😀" '.encode(), ['"\\u00E9\\u20AC\\uD83D\\uDE00"']),
    (b'"\\uD83D\\uDE00\\ud83d\\ude00" ', ['"\\uD83D\\uDE00\\uD83D\\uDE00"']),
    (b'"a\\u0000b" ', ['"a\\u0000b"']),
    (b'"a\xc0\x80b" ', ['"a\\u0000b"']),
    (b'"\\q"', [P + "invalid escape sequence in string"]),
    ('"\\é"'.encode(), [P + "invalid escape sequence in string"]),
    (b'"\\u12"', [P + '\\u12" is not a valid Unicode character']),
    (b'"\\u"', [P + '\\u" is not a valid Unicode character']),
    (b'"\\u12g4zz"', [P + "\\u12g4 is not a valid Unicode character"]),
    (b'"\\uD800x"', [P + "\\uD800 is not a valid Unicode character"]),
    (b'"\\uDC00"', [P + "\\uDC00 is not a valid Unicode character"]),
    (b'"\\uD800\\u0041"', [P + "\\uD800 is not a valid Unicode character"]),
    (b'"\\uD800\\uZZZZ"', [P + "\\uD800 is not a valid Unicode character"]),
    (b'"\\uFFFF"', [P + "\\uFFFF is not a valid Unicode character"]),
    (b'"\\uFDD0"', [P + "\\uFDD0 is not a valid Unicode character"]),
    (b'"\\uDBFF\\uDFFF"', [P + "\\uDBFF\\uDFFF is not a valid Unicode character"]),
    ('"\\u123é"'.encode(), [P + "\\u123\ufffd is not a valid Unicode character"]),
    (b'"a\x80b"', [P + "invalid UTF-8 sequence in string"]),
    (b'"a\xc0\x81b"', [P + "invalid UTF-8 sequence in string"]),
    (b'"a\xef\xbf\xbfb"', [P + "invalid UTF-8 sequence in string"]),
    (b'"a\xed\xa0\x80b"', [P + "invalid UTF-8 sequence in string"]),
    (b'"a\xf4\x90\x80\x80b"', [P + "invalid UTF-8 sequence in string"]),
    (b'"a\xf8\x88\x80\x80\x80b"', [P + "invalid UTF-8 sequence in string"]),
    (b'"ab\xc3"', [P + "invalid UTF-8 sequence in string"]),
    (b'"abc\x01def"', [P + "stray '\"abc\x01'"]),
    (b'"ab\xc3\x01', [P + "stray '\"ab\ufffd\x01'"]),
    (b'"ab\xe2\x82\x01', [P + "stray '\"ab\ufffd\x01'"]),
    # numbers
    (b"-0 ", ["0"]),
    (b"-0.0 ", ["-0"]),
    (b"9223372036854775807 ", ["9223372036854775807"]),
    (b"9223372036854775808 ", ["9223372036854775808"]),
    (b"18446744073709551615 ", ["18446744073709551615"]),
    (b"18446744073709551616 ", ["1.8446744073709552e+19"]),
    (b"-9223372036854775808 ", ["-9223372036854775808"]),
    (b"-9223372036854775809 ", ["-9.2233720368547758e+18"]),
    (b"123456789012345678901234567890 ", ["1.2345678901234568e+29"]),
    (b"1.0 0.1 1e300 1E+2 1e-2 ", ["1", "0.10000000000000001", "1.0000000000000001e+300", "100", "0.01"]),
    (b"1e400 -1e400 1e-400 ", ["inf", "-inf", "0"]),
    (
        b"0.000001 1e16 1e17 5e-324 123.456 ",
        ["9.9999999999999995e-07", "10000000000000000", "1e+17", "4.9406564584124654e-324", "123.456"],
    ),
    (b"01", [P + "stray '01'"]),
    (b"-a", [P + "stray '-a'"]),
    (b"-\n", [P + "stray '-\n'"]),
    (b"1.\n", [P + "stray '1.\n'"]),
    (b"1e+\n", [P + "stray '1e+\n'"]),
    (b"1.e5\n", [P + "stray '1.e'"]),
    (b"0x ", ["0", P + "invalid keyword 'x'"]),
    # keywords
    (b"nul ", [P + "invalid keyword 'nul'"]),
    (b"True", [P + "stray 'T'"]),
    # structure
    (b"[1 2]", [P + "expected separator in list"]),
    (b"[1,]", [P + "expecting value"]),
    (b"[,1]", [P + "expecting value"]),
    (b'{"a" 1}', [P + "missing : in object pair"]),
    (b'{"a": }', [P + "expecting value"]),
    (b"{1: 2}", [P + "key is not a string in object"]),
    (b"{true: 2}", [P + "key is not a string in object"]),
    (b"{foo: 2}", [P + "invalid keyword 'foo'"]),
    (b"{: 2}", [P + "expecting value"]),
    (b'{"a":1 "b":2}', [P + "expected separator in dict"]),
    (b'{"a":1,}', [P + "expecting value"]),
    (b'{"a":1,"a":2}', [P + "duplicate key"]),
    (b'{"a": 1, "a": {"b"}}', [P + "missing : in object pair"]),
    (b'{"a\\q": 1}', [P + "invalid escape sequence in string"]),
    (b'{"a": [1 2], 3: 4}', [P + "expected separator in list"]),
    (b'{{"a": 1}: 2}', [P + "key is not a string in object"]),
    # stray closers: a negative count ends the message at once
    (b"}", [P + "expecting value"]),
    (b"]", [P + "expecting value"]),
    (b'{"a":1]', [P + "expected separator in dict"]),
    (b"{]", [P + "expecting value"]),
    (b"[}", [P + "expecting value"]),
    (b'{"a": 1}}', ['{"a": 1}', P + "expecting value"]),
    # lexical errors and recovery
    (b"%", [P + "stray '%'"]),
    (b"%,5\n", [P + "stray '%'", P + "expecting value", "5"]),
    (b"%:5\n", [P + "stray '%'", P + "expecting value", "5"]),
    (b"% \t5 x\n", [P + "stray '%'"]),
    (b"x%a b\r", [P + "invalid keyword 'x'", P + "stray '%'"]),
    (b"%abc\x00\x00\x00", [P + "stray '%'"] + [P + "stray ''"] * 3),
    (b"\xff", [P + "stray '\ufffd'"]),
    (b"\xfe{}", [P + "stray '\ufffd'", "{}"]),
    (b"\x01\x02", [P + "stray '\x01'", P + "stray '\x02'"]),
    (b'{"a": %d}', [P + "stray '%'", P + "expecting value"]),
    (b'{"a": \xff"b": 1}', [P + "stray '\ufffd'", P + "expecting value", "1", P + "expecting value"]),
    (b"garbage!!! {}", [P + "invalid keyword 'garbage'", P + "stray '!'", "{}"]),
    (b"'abc\n'{}", [P + "stray ''abc\n'", "{}"]),
    # incomplete input: nothing yet
    (b'{"a": 1', []),
    (b'{"a": "abc', []),
    (b"123", []),
    (b"tru", []),
]


@pytest.mark.parametrize(("data", "expected"), STREAM_VECTORS, ids=[repr(v[0])[:40] for v in STREAM_VECTORS])
def test_stream_vectors(data: bytes, expected: list[str]) -> None:
    assert stream(data) == expected


@pytest.mark.parametrize(("data", "expected"), STREAM_VECTORS, ids=[repr(v[0])[:40] for v in STREAM_VECTORS])
def test_stream_vectors_byte_by_byte(data: bytes, expected: list[str]) -> None:
    streamer = JsonStreamer()
    out: list[JsonMessage] = []
    for byte in data:
        out += streamer.feed(bytes([byte]))
    assert render(out) == expected


def test_keyword_message_truncated_to_1023_bytes() -> None:
    # Observed: keywords of 1005 letters and more give a 1023-byte detail.
    for n in (1000, 1005, 1006, 2000):
        (desc,) = stream(b"a" * n + b" ")
        assert desc == P + ("invalid keyword '" + "a" * n + "'")[:1023]


def test_nesting_limit() -> None:
    assert stream(b"[" * 1024 + b"]" * 1024) == ["[" * 1024 + "]" * 1024]
    inner = b"[" * 1023 + b"]" * 1023
    assert len(stream(b'{"id": ' + inner + b"}")) == 1
    assert stream(b"[" * 1025) == ["!JSON nesting depth limit exceeded"]
    # The error resets the counts: each closer after it is a message.
    assert stream(b"[" * 1025 + b"]]{}") == ["!JSON nesting depth limit exceeded"] + [
        P + "expecting value"
    ] * 2 + ["{}"]
    assert stream(b"{" * 1025 + b"}") == ["!JSON nesting depth limit exceeded", P + "expecting value"]


def test_token_count_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # Real limit is 2 << 20 (observed: 2^21 tokens pass, 2^21 + 1 fail).
    monkeypatch.setattr(json_streamer, "MAX_TOKEN_COUNT", 8)
    assert stream(b"[1,2,[]]") == ["[1, 2, []]"]  # 8 tokens
    # The 9th token is refused and dropped with the message.
    assert stream(b"[1,2,3,4]{}") == ["!JSON token count limit exceeded", "{}"]


def test_token_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # A message may total MAX - 1 bytes counting one extra byte per token but
    # the last (observed at the real 64 MiB: a 2^26 - 1 byte string passes).
    monkeypatch.setattr(json_streamer, "MAX_TOKEN_SIZE", 10)
    assert stream(b'"1234567" ') == ['"1234567"']
    assert stream(b'"12345678" ') == ["!JSON token size limit exceeded"]
    assert stream(b'["12345"]') == ['["12345"]']
    assert stream(b'["123456"]{}') == ["!JSON token size limit exceeded", "{}"]


def test_lexer_cuts_oversized_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_lexer, "MAX_TOKEN_SIZE", 8)
    monkeypatch.setattr(json_streamer, "MAX_TOKEN_SIZE", 8)
    lexer = JsonLexer()
    assert lexer.feed(b'"12345678bcd ') == [Token(OVERSIZED, b'"12345678'), Token(KEYWORD_TOKEN, b"bcd")]
    # The run fast path and the byte-by-byte path cut at the same byte.
    lexer = JsonLexer()
    tokens: list[Token] = []
    for byte in b'"12345678bcd ':
        tokens += lexer.feed(bytes([byte]))
    assert tokens == [Token(OVERSIZED, b'"12345678'), Token(KEYWORD_TOKEN, b"bcd")]
    assert stream(b'"12345678bcd ') == ["!JSON token size limit exceeded", P + "invalid keyword 'bcd'"]


def test_flush() -> None:
    cases: list[tuple[bytes, list[str]]] = [
        (b"", []),
        (b"123", ["123"]),
        (b"tru", [P + "invalid keyword 'tru'"]),
        (b'"abc', [P + "stray '\"abc'"]),
        (b"-", [P + "stray '-'"]),
        (b"1e", [P + "stray '1e'"]),
        (b'{"a": [1, 2', [P + "premature EOI"]),
        (b"{", [P + "premature EOI"]),
        (b'{"a"', [P + "premature EOI"]),
        (b'{"a":', [P + "premature EOI"]),
        (b'{"a":1,"a":2', [P + "duplicate key"]),
        (b'{"a":1,', [P + "premature EOI"]),
        (b"[1", [P + "premature EOI"]),
        (b'{"a": 12', [P + "premature EOI"]),
        (b"%abc", []),
    ]
    for data, expected in cases:
        streamer = JsonStreamer()
        out = streamer.feed(data)
        if data != b"%abc":
            assert out == []
        assert render(streamer.flush()) == expected, data
        assert not streamer.pending
        assert render(streamer.feed(b"{}")) == ["{}"]


def test_lexer_table_shape() -> None:
    assert all(len(row) == 256 for row in TABLE)
    # Unlisted pairs are ERROR, consuming the byte.
    assert TABLE[START][ord("%")] == ERROR
    assert TABLE[START][0xFF] == ERROR
    assert TABLE[DQ_STRING][0x1F] == ERROR
    assert TABLE[DQ_STRING][0xFE] == ERROR
    assert TABLE[DQ_STRING][0xFD] == DQ_STRING
    # Recovery stops (without consuming) at structure, control bytes, FE/FF.
    for byte in b"[]{}:,\n\r\x00\xfe\xff":
        assert TABLE[RECOVERY][byte] == START | LOOKAHEAD
    for byte in b"\t %a\"'5\x80":
        assert TABLE[RECOVERY][byte] == RECOVERY


def test_lexer_tokens() -> None:
    lexer = JsonLexer()
    tokens = lexer.feed(b"12 1.5e3 -0 true 'x' \"y\" %")
    assert tokens == [
        Token(INTEGER, b"12"),
        Token(FLOAT, b"1.5e3"),
        Token(INTEGER, b"-0"),
        Token(KEYWORD_TOKEN, b"true"),
        Token(STRING, b"'x'"),
        Token(STRING, b'"y"'),
        Token(ERROR, b"%"),
    ]
    assert lexer.state == RECOVERY
    assert lexer.flush() == [Token(END_OF_INPUT, b"")]
    assert lexer.state == START


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a", (0x61, 1)),
        (b"\xc0\x80", (0, 2)),
        (b"\xc3\xa9", (0xE9, 2)),
        (b"\xf0\x9f\x98\x80", (0x1F600, 4)),
        (b"\x80", (-1, 1)),
        (b"\xff", (-1, 1)),
        (b"\xc3", (-1, 1)),
        (b"\xe2\x82\x01", (-1, 2)),
        (b"\xc1\x81", (-1, 2)),
        (b"\xed\xa0\x80", (-1, 3)),
        (b"\xef\xbf\xbf", (-1, 3)),
        (b"\xf8\x88\x80\x80\x80", (-1, 5)),
        (b"", (-1, 0)),
    ],
)
def test_mod_utf8_codepoint(data: bytes, expected: tuple[int, int]) -> None:
    assert mod_utf8_codepoint(data, 0) == expected


def test_decode_lossy() -> None:
    assert decode_lossy(b"abc") == "abc"
    assert decode_lossy(b"a\xc0\x80b") == "a\x00b"
    assert decode_lossy(b"a\xff\xe2\x82\x01") == "a\ufffd\ufffd\x01"
    assert decode_lossy(b"ab\x00cd") == "ab"


def test_parse_number_kinds() -> None:
    assert parse_number(INTEGER, b"-0") == 0
    assert parse_number(INTEGER, b"9223372036854775808") == 1 << 63
    assert isinstance(parse_number(INTEGER, b"18446744073709551616"), float)
    assert isinstance(parse_number(INTEGER, b"-9223372036854775809"), float)
    assert isinstance(parse_number(INTEGER, b"1" * 5000), float)
    assert isinstance(parse_number(FLOAT, b"1.0"), float)


def test_parse_string_fast_and_slow_paths_agree() -> None:
    for text in ["plain", "é€😀", "a\x00b", "'\"", "\ufffd"]:
        data = b'"' + text.encode("utf-8", "surrogatepass").replace(b"\x00", b"\xc0\x80") + b'"'
        assert parse_string(data) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("", '""'),
        ('"\\/\b\f\n\r\t', '"\\"\\\\/\\b\\f\\n\\r\\t"'),
        ("\x00\x1f\x7f\x80\xe9\u20ac\ufffd", '"\\u0000\\u001F\\u007F\\u0080\\u00E9\\u20AC\\uFFFD"'),
        ("\U0001f600\U0010fffd", '"\\uD83D\\uDE00\\uDBFF\\uDFFD"'),
        ("\ud800", '"\\uFFFD"'),
    ],
)
def test_quote(value: str, text: str) -> None:
    assert quote(value) == text


def test_format_double() -> None:
    assert [format_double(v) for v in (1.0, 0.1, 1e300, -0.0, 1e17, 2.5)] == [
        "1",
        "0.10000000000000001",
        "1.0000000000000001e+300",
        "-0",
        "1e+17",
        "2.5",
    ]
    assert format_double(float("inf")) == "inf"
    assert format_double(float("-inf")) == "-inf"
    assert format_double(float("nan")) == "nan"


def test_writer_compact_and_pretty() -> None:
    # Member order is QDict order (observed: a, b, c whatever the input order).
    value = QDict({"c": QDict({"e": qnull, "f": []}), "b": [1, True], "a": 2.5})
    assert to_json(value) == '{"a": 2.5, "b": [1, true], "c": {"e": null, "f": []}}'
    assert to_json(value, pretty=True) == (
        "{\n"
        '    "a": 2.5,\n'
        '    "b": [\n        1,\n        true\n    ],\n'
        '    "c": {\n        "e": null,\n        "f": [\n        ]\n    }\n'
        "}"
    )
    assert to_json(QDict()) == "{}"
    assert to_json(QDict(), pretty=True) == "{\n}"
    assert to_json([]) == "[]"
    assert to_json([], pretty=True) == "[\n]"
    assert to_json("x", pretty=True) == '"x"'
    assert to_json(False) == "false"


def test_writer_deep_nesting() -> None:
    deep: QObject = []
    for _ in range(3000):
        deep = [deep]
    assert to_json(deep) == "[" * 3001 + "]" * 3001


def _random_qobject(rng: random.Random, depth: int = 0) -> QObject:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([True, False])
    if kind == 1:
        return qnull
    if kind == 2:
        return rng.randrange(-(1 << 63), 1 << 64)
    if kind == 3:
        return rng.choice([0.5, -2.25, 1e300, 5e-324, 0.1, 1234.5678])
    if kind in (4, 5):
        alphabet = "ab\"\\/\b\f\n\r\t\x00\x01\x7f\xe9\u20ac\U0001f600'%"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if kind in (6, 7):
        return [_random_qobject(rng, depth + 1) for _ in range(rng.randrange(4))]
    return QDict({f"k{rng.randrange(50)}": _random_qobject(rng, depth + 1) for _ in range(rng.randrange(4))})


def test_round_trip() -> None:
    rng = random.Random(7)
    for _ in range(500):
        value = _random_qobject(rng)
        text = to_json(value).encode()
        assert text.isascii()
        (message,) = JsonStreamer().feed(text + b"\n")
        assert isinstance(message, ParsedValue)
        # Equal, though not always written alike: keys sharing a QDict
        # bucket come back in reverse order, as in QEMU.
        assert message.value == value


def test_parse_error_is_frozen_message() -> None:
    (message,) = JsonStreamer().feed(b"}")
    assert message == ParseError("JSON parse error, expecting value")
    with pytest.raises(AttributeError):
        message.desc = "x"  # type: ignore[misc]
