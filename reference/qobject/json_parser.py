"""QEMU's JSON parser (qobject/json-parser.c in 7.2): tokens to QObjects.

QEMU's parser is recursive and keeps only the first error it meets, so the
first error is the one reported; this one is iterative (nesting reaches 1024,
deeper than Python's default recursion limit) and stops at the first error.

Texts are bytes here, as in QEMU; an error message becomes a str only at the
end, decoded the way QEMU's JSON writer will read it (see decode_lossy).
"""

from __future__ import annotations

import re

from reference.qobject.json_lexer import (
    COLON,
    COMMA,
    FLOAT,
    INTEGER,
    KEYWORD_TOKEN,
    LCURLY,
    LSQUARE,
    RCURLY,
    RSQUARE,
    STRING,
    Token,
)
from reference.qobject.values import QDict, QObject, qnull

# QEMU formats a parse error's detail into a 1024-byte buffer.
MESSAGE_LIMIT = 1023
PREFIX = b"JSON parse error, "

_MIN_CP = (0x80, 0x800, 0x10000, 0x200000, 0x4000000)
_INT64_MIN = -(1 << 63)
_INT64_END = 1 << 63
_UINT64_END = 1 << 64
# Longer digit strings are out of 64-bit range (and may exceed int()'s limit).
_MAX_INT_DIGITS = 20
_HEX = frozenset(b"0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = {
    ord('"'): '"', ord("'"): "'", ord("\\"): "\\", ord("/"): "/",
    ord("b"): "\b", ord("f"): "\f", ord("n"): "\n", ord("r"): "\r", ord("t"): "\t",
}  # fmt: skip
_KEYWORDS: dict[bytes, QObject] = {b"true": True, b"false": False, b"null": qnull}
# Noncharacters: valid to Python's UTF-8 codec, rejected by QEMU's.
_NONCHARACTER = re.compile(
    "[\ufdd0-\ufdef" + "".join(f"{chr(p << 16 | 0xFFFE)}{chr(p << 16 | 0xFFFF)}" for p in range(17)) + "]"
)


class JsonParseError(Exception):
    """The first parse error; desc is the complete text QEMU reports."""

    def __init__(self, desc: str) -> None:
        super().__init__(desc)
        self.desc = desc


def is_valid_codepoint(cp: int) -> bool:
    if cp < 0 or cp > 0x10FFFF:
        return False
    if 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE:
        return False  # noncharacter
    return not 0xD800 <= cp <= 0xDFFF


def mod_utf8_codepoint(data: bytes, i: int) -> tuple[int, int]:
    """Decode one modified UTF-8 sequence at data[i]: (codepoint or -1, end).

    Where an invalid sequence ends matters: QEMU resumes there. The end of
    data acts like QEMU's terminating NUL.
    """
    n = len(data)
    if i >= n or data[i] == 0:
        return -1, i
    lead = data[i]
    if lead < 0x80:
        return lead, i + 1
    if lead >= 0xFE or not lead & 0x40:
        return -1, i + 1  # impossible byte, or stray continuation byte
    length = 2
    while lead & (0x80 >> length):
        length += 1
    cp = lead & ((0x80 >> length) - 1)
    p = i + 1
    for _ in range(length - 1):
        if p >= n or data[p] & 0xC0 != 0x80:
            return -1, p  # continuation byte missing
        cp = cp << 6 | (data[p] & 0x3F)
        p += 1
    if not is_valid_codepoint(cp):
        return -1, p
    if cp < _MIN_CP[length - 2] and not (cp == 0 and length == 2):
        return -1, p  # overlong, except C0 80 for NUL
    return cp, p


def decode_lossy(data: bytes) -> str:
    """Read C-string bytes the way QEMU's JSON writer does.

    Text stops at a NUL; each invalid sequence reads as U+FFFD. A parse
    error's text only ever reaches a client through that writer, so this is
    exactly what the client gets.
    """
    data = data.split(b"\0", 1)[0]
    if data.isascii():
        return data.decode("ascii")
    chars: list[str] = []
    i = 0
    while i < len(data):
        cp, i = mod_utf8_codepoint(data, i)
        chars.append(chr(cp) if cp >= 0 else "\ufffd")
    return "".join(chars)


def error(message: bytes) -> JsonParseError:
    return JsonParseError(decode_lossy(PREFIX + message[:MESSAGE_LIMIT]))


def _hex4(text: bytes, i: int) -> int:
    digits = text[i : i + 4]
    if len(digits) != 4 or not _HEX.issuperset(digits):
        return -1
    return int(digits, 16)


def parse_string(text: bytes) -> str:
    """A string token (quotes included) to its value."""
    body = text[1:-1]
    if b"\\" not in body:
        try:
            value = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if value.isascii() or not _NONCHARACTER.search(value):
                return value
    return _parse_string_slowly(text)


def _parse_string_slowly(text: bytes) -> str:
    quote = text[0]
    chars: list[str] = []
    i = 1
    while text[i] != quote:
        byte = text[i]
        if byte != 0x5C:  # backslash
            cp, i = mod_utf8_codepoint(text, i)
            if cp < 0:
                raise error(b"invalid UTF-8 sequence in string")
            chars.append(chr(cp))
            continue
        begin = i
        kind = text[i + 1]
        i += 2
        simple = _SIMPLE_ESCAPES.get(kind)
        if simple is not None:
            chars.append(simple)
            continue
        if kind != ord("u"):
            raise error(b"invalid escape sequence in string")
        cp = _hex4(text, i)
        i += 4
        if 0xD800 <= cp <= 0xDBFF and text[i : i + 2] == b"\\u":
            # A leading surrogate pairs only with a trailing one.
            trailing = _hex4(text, i + 2)
            if 0xDC00 <= trailing <= 0xDFFF:
                cp = 0x10000 + ((cp & 0x3FF) << 10) | (trailing & 0x3FF)
                i += 6
            else:
                cp = -1
        if not is_valid_codepoint(cp):
            # QEMU quotes the escape's bytes, cut at the token's end.
            raise error(text[begin:i] + b" is not a valid Unicode character")
        chars.append(chr(cp))
    return "".join(chars)


def parse_number(kind: int, text: bytes) -> int | float:
    """int64 if it fits, else uint64 if not negative, else double."""
    if kind == INTEGER and len(text.lstrip(b"-")) <= _MAX_INT_DIGITS:
        value = int(text)
        if _INT64_MIN <= value < _INT64_END or 0 <= value < _UINT64_END:
            return value
    return float(text)


def _scalar(token: Token) -> QObject:
    kind = token.kind
    if kind == STRING:
        return parse_string(token.text)
    if kind in (INTEGER, FLOAT):
        return parse_number(kind, token.text)
    value = _KEYWORDS.get(token.text)
    if value is None:
        raise error(b"invalid keyword '" + token.text + b"'")
    return value


_EOI = b"premature EOI"
_SCALARS = frozenset({STRING, INTEGER, FLOAT, KEYWORD_TOKEN})


class _Object:
    __slots__ = ("dict", "key")

    def __init__(self) -> None:
        self.dict = QDict()
        self.key: str | None = None


def parse_tokens(tokens: list[Token]) -> QObject:
    """One message's tokens to a value; raises JsonParseError.

    The streamer only hands over token lists that are complete or broken, so
    trailing tokens after a complete value cannot occur.
    """
    n = len(tokens)
    pos = 0
    # Open containers: a list, or an _Object that is waiting for a key
    # (key None) or for the value of .key.
    stack: list[list[QObject] | _Object] = []
    while True:
        # Parse a value starting at pos.
        if pos >= n:
            raise error(_EOI)
        kind = tokens[pos].kind
        value: QObject
        if kind in _SCALARS:
            value = _scalar(tokens[pos])
            pos += 1
        elif kind in (LCURLY, LSQUARE):
            pos += 1
            if pos >= n:
                raise error(_EOI)
            if tokens[pos].kind == (RCURLY if kind == LCURLY else RSQUARE):
                pos += 1
                value = QDict() if kind == LCURLY else []
            else:
                stack.append(_Object() if kind == LCURLY else [])
                continue
        else:
            raise error(b"expecting value")
        # Hand the value to the innermost open container, closing as many
        # containers as the following tokens close. Checks come in QEMU's
        # order: a bad key or a duplicate is reported before a missing token.
        while stack:
            top = stack[-1]
            if isinstance(top, list):
                top.append(value)
                follow = _next_kind(tokens, pos)
                pos += 1
                if follow == RSQUARE:
                    stack.pop()
                    value = top
                    continue
                if follow != COMMA:
                    raise error(b"expected separator in list")
                break
            if top.key is None:
                if not isinstance(value, str):
                    raise error(b"key is not a string in object")
                follow = _next_kind(tokens, pos)
                pos += 1
                if follow != COLON:
                    raise error(b"missing : in object pair")
                top.key = value
                break
            if top.key in top.dict:
                raise error(b"duplicate key")
            top.dict.put(top.key, value)
            top.key = None
            follow = _next_kind(tokens, pos)
            pos += 1
            if follow == RCURLY:
                stack.pop()
                value = top.dict
                continue
            if follow != COMMA:
                raise error(b"expected separator in dict")
            break
        else:
            return value


def _next_kind(tokens: list[Token], pos: int) -> int:
    if pos >= len(tokens):
        raise error(_EOI)
    return tokens[pos].kind
