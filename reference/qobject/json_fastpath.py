"""A shortcut for the common case: one plain JSON object in one chunk.

Most requests are printable ASCII objects without \\u escapes. For those,
Python's C JSON decoder gives the same value QEMU's parser does, so the
streamer may use it when it is idle. Anything it cannot vouch for returns
None and goes the long way (QEMU's own lexer and parser), which alone knows
QEMU's errors. tests/unit/test_json_fastpath.py holds the two paths equal.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from reference.qobject.values import QDict, QObject, qnull

# Printable ASCII and JSON whitespace only: no raw control bytes, no UTF-8
# questions (QEMU rejects some sequences Python accepts), no \u escapes
# (lone surrogates), short enough to stay far below QEMU's limits.
_PLAIN = re.compile(rb"[\t\n\r\x20-\x7e]*\Z")
MAX_FAST = 1 << 16
INT_MIN, UINT_MAX = -(2**63), 2**64 - 1


class _NotPlain(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> QDict:
    values = dict(pairs)
    if len(values) != len(pairs):
        raise _NotPlain  # QEMU: "duplicate key"
    return QDict.adopting(values)


def _pairs_with_nulls(pairs: list[tuple[str, Any]]) -> QDict:
    """_pairs, with JSON's null (Python's None) as QEMU's qnull; inner objects came through here."""
    result = _pairs(pairs)
    for key, value in pairs:
        if value is None:
            result.put(key, qnull)
        elif type(value) is list:
            _list_nulls(value)
    return result


def _list_nulls(items: list[Any]) -> None:
    for index, item in enumerate(items):
        if item is None:
            items[index] = qnull
        elif type(item) is list:
            _list_nulls(item)


def _integer(text: str) -> int | float:
    value = int(text)
    # QEMU keeps int64 and uint64 as integers; beyond both, a double.
    return value if INT_MIN <= value <= UINT_MAX else float(text)


def _decimal(text: str) -> float:
    # QEMU's lexer ends a number at a leading "0" unless a "." follows: "0e1" is not one number.
    if text.lstrip("-")[:2] in ("0e", "0E"):
        raise _NotPlain
    return float(text)


def _constant(text: str) -> Any:
    raise _NotPlain  # NaN and Infinity are not JSON to QEMU


@cache
def _decoder(nulls: bool) -> json.JSONDecoder:
    """Made once (json.loads with hooks makes a decoder per call); the null walk only where needed."""
    return json.JSONDecoder(
        object_pairs_hook=_pairs_with_nulls if nulls else _pairs,
        parse_int=_integer,
        parse_float=_decimal,
        parse_constant=_constant,
    )


def parse_plain_object(data: bytes) -> QDict | None:
    """The object QEMU would parse from `data`, or None if this shortcut cannot tell."""
    if len(data) > MAX_FAST or b"\\u" in data or not _PLAIN.match(data):
        return None
    text = data.decode("ascii").strip(" \t\r\n")
    if not text.startswith("{"):
        return None
    decoder = _decoder(b"null" in data)
    try:
        value: QObject = decoder.decode(text)
    except (ValueError, _NotPlain, RecursionError):
        return None
    return value if isinstance(value, QDict) else None
