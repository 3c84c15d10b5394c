"""QEMU 11.1's JSON errors, as observed from qemu-storage-daemon 11.1.3.

Each input follows the negotiation line, so its errors are on line 2.
"""

from __future__ import annotations

import pytest

from reference.qobject.json_streamer import ParsedValue
from reference.qobject.json_streamer_11 import JsonStreamer11

NESTING = "JSON nesting depth limit exceeded"
NEGOTIATION = b'{"execute":"qmp_capabilities"}\n'


def replies(data: bytes) -> list[str]:
    streamer = JsonStreamer11()
    streamer.feed(NEGOTIATION)
    return ["value" if isinstance(m, ParsedValue) else m.desc for m in streamer.feed(data)]


def err(where: str, what: str) -> str:
    return f"{where}: JSON parse error, {what}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a":1,"a":2}\n', [err("2:12", "duplicate key")]),
        (b"{1:2}\n", [err("2:2", "expecting key")]),
        (b"{{}:1}\n", [err("2:2", "expecting key")]),
        (b'{"a":1,}\n', [err("2:8", "expecting key")]),
        (b"[{]}\n", [err("2:3", "expecting key")]),
        (b"[1 2]\n", [err("2:4", "expected ',' or ']'")]),
        (b'{"a" 1}\n', [err("2:6", "expecting ':'")]),
        (b'{"a":1 "b"}\n', [err("2:8", "expected ',' or '}'")]),
        (b"[,]\n", [err("2:2", "expecting value")]),
        (b"]\n", [err("2:1", "expecting value")]),
        (b"foo\n", [err("2:1", "invalid keyword 'foo'")]),
        (b'{"a":foo}\n', [err("2:6", "invalid keyword 'foo'")]),
        (b"  %\n", [err("2:3", "stray '%'")]),
        (b"01\n", [err("2:1", "stray '01'")]),
        (b'"ab\\q"\n', [err("2:1", "invalid escape sequence in string")]),
        (b'{"\\q":1}\n', [err("2:2", "invalid escape sequence in string")]),
        (b'"\xc3("\n', [err("2:1", "invalid UTF-8 sequence in string")]),
        # CR and TAB are one column each; columns count bytes.
        (b'\r\t {"a" 1}\n', [err("2:9", "expecting ':'")]),
        (b'["\xc3\xa9" x]\n', [err("2:7", "expected ',' or ']'")]),
        (b"[1,\n 2 x]\n", [err("3:4", "expected ',' or ']'")]),
        # The value is parsed before its key is judged a duplicate.
        (b'{"a":1,"a":[1 2]}\n', [err("2:15", "expected ',' or ']'")]),
        (b'{"a":1,"a":2 3}\n', [err("2:12", "duplicate key")]),
    ],
)
def test_errors_are_worded_and_located(data: bytes, expected: list[str]) -> None:
    assert replies(data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # A duplicate is reported at the value's last token...
        (b'{"a":1,"a":{}}\n', [err("2:13", "duplicate key")]),
        (b'{"a":1,"a":[[1]]}\n', [err("2:16", "duplicate key")]),
        # ...which is one column late right after a number or keyword.
        (b'{"a":1,"a":[1]}\n', [err("2:15", "duplicate key")]),
        (b'{"a":1,"a":[1] }\n', [err("2:15", "duplicate key")]),
        (b'{"a":{"b":1,"b":[2]}}\n', [err("2:20", "duplicate key")]),
        (b"nul%\n", [err("2:1", "invalid keyword 'nul'"), err("2:5", "stray '%'")]),
        (b"true]\n", ["value", err("2:6", "expecting value")]),
        (b"[1,2]]\n", ["value", err("2:6", "expecting value")]),
        # The end of error recovery is looked at twice too.
        (b"%]\n", [err("2:1", "stray '%'"), err("2:3", "expecting value")]),
        (b"%x]\n", [err("2:1", "stray '%'"), err("2:4", "expecting value")]),
        (b"%\xff]\n", [err("2:1", "stray '%'"), err("2:3", "stray '\ufffd'"), err("2:4", "expecting value")]),
        # Whitespace after the doubled byte puts things right again.
        (b"1\r]\n", ["value", err("2:3", "expecting value")]),
        (b"%\n]\n", [err("2:1", "stray '%'"), err("3:1", "expecting value")]),
    ],
)
def test_a_byte_looked_at_twice_shifts_the_next_token(data: bytes, expected: list[str]) -> None:
    assert replies(data) == expected


def test_lines_count_over_the_whole_connection() -> None:
    data = b'{"a" 1}\n{"a" 1}\r\n  {"a" 1}'
    assert replies(data) == [err(f"{line}:{col}", "expecting ':'") for line, col in ((2, 6), (3, 6), (4, 8))]


def test_locations_survive_plain_requests_and_split_writes() -> None:
    streamer = JsonStreamer11()
    for chunk in (NEGOTIATION, b'{"execute": "x"}\n', b"\n\n[1", b" 2]\n"):
        out = streamer.feed(chunk)
    assert [m.desc for m in out if not isinstance(m, ParsedValue)] == [err("5:4", "expected ',' or ']'")]


SYNC = b'{"execute":"query-version"}\n'


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # Balanced input after the error is swallowed, requests included.
        (b"\n" + SYNC, []),
        (b"]" * 1024 + SYNC, []),
        # The message ends when the counts (the 1025th bracket included) do.
        (b"]" * 1025 + SYNC, ["value"]),
        (b"]" * 1026 + SYNC, [err("2:2051", "expecting value"), "value"]),
        (b"}}}" + SYNC, [err("2:1027", "expecting value"), err("2:1028", "expecting value"), "value"]),
        # A lexical error ends the skip silently, 0xFF as any other.
        (b"\xff" + SYNC, ["value"]),
        (b"01 " + SYNC, ["value"]),
        (b"%]" + SYNC, [err("2:1028", "expecting value"), "value"]),
    ],
)
def test_nesting_limit_skips_to_the_end_of_the_message(after: bytes, expected: list[str]) -> None:
    assert replies(b"[" * 1025 + after) == [NESTING, *expected]


def test_skip_counts_braces_and_brackets_apart() -> None:
    # "}" closes the 1025th opener, so "]]" does not end the skip.
    assert replies(b"[" * 1024 + b"{}]]" + SYNC) == [NESTING]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # Reported at once; the rest of the message is dropped without a word...
        (b"[1 2 " + SYNC + b"]\n", [err("2:4", "expected ',' or ']'")]),
        (b'[1 2 {"a":1,"a":2}]\n', [err("2:4", "expected ',' or ']'")]),
        (b"{{\n\xff\n", [err("2:2", "expecting key")]),
        # ...up to where it would have ended, or a lexical error (not reported).
        (b"[1 2 ]]\n", [err("2:4", "expected ',' or ']'"), err("2:7", "expecting value")]),
        (b"[1 2 %]\n", [err("2:4", "expected ',' or ']'"), err("2:8", "expecting value")]),
        (b'{"a":1,"a":2, 3 %}\n', [err("2:12", "duplicate key"), err("2:19", "expecting value")]),
        # A lexical error outside a skip is reported and drops the message, as in 7.2.
        (
            b"[1, %, 2]\n",
            [err("2:5", "stray '%'"), err("2:7", "expecting value"), "value", err("2:10", "expecting value")],
        ),
    ],
)
def test_parse_errors_come_at_once_then_skip(data: bytes, expected: list[str]) -> None:
    assert replies(data) == expected
