"""C's strtoll/strtoull and QEMU's wrappers around them, as the visitors read numbers.

Each parser reads a prefix of the text the way glibc does (leading space, a
sign, a base prefix in base 0 or 16) and says where it stopped, so callers can
model QEMU's "whole string" and "value-range" grammars on top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

C_SPACE = " \t\n\v\f\r"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1

_DIGITS = {
    8: re.compile(r"[0-7]+"),
    10: re.compile(r"[0-9]+"),
    16: re.compile(r"[0-9a-fA-F]+"),
}
_HEX_PREFIX = re.compile(r"0[xX][0-9a-fA-F]")


@dataclass(frozen=True)
class Parsed:
    """A C integer conversion: the value, where it stopped, and errno."""

    value: int
    end: int  # index of the first unread character (== start when nothing converted)
    error: str = ""  # "" | "EINVAL" (no conversion) | "ERANGE"


def _magnitude(text: str, pos: int, base: int) -> tuple[int, int, int] | None:
    """(magnitude, end, base used) of the digits at pos, or None when there are none."""
    if base in (0, 16) and _HEX_PREFIX.match(text, pos):
        pos, base = pos + 2, 16
    elif base == 0:
        base = 8 if text.startswith("0", pos) else 10
    match = _DIGITS[base].match(text, pos)
    if match is None:
        return None
    return int(match.group(), base), match.end(), base


def strtox(text: str, start: int, base: int, signed: bool) -> Parsed:
    """glibc's strtoll (signed) or strtoull: the value it returns, endptr and errno."""
    pos = start
    while pos < len(text) and text[pos] in C_SPACE:
        pos += 1
    negative = False
    if pos < len(text) and text[pos] in "+-":
        negative = text[pos] == "-"
        pos += 1
    found = _magnitude(text, pos, base)
    if found is None:
        return Parsed(0, start, "EINVAL")
    magnitude, end, _ = found
    if signed:
        value = -magnitude if negative else magnitude
        if value > INT64_MAX:
            return Parsed(INT64_MAX, end, "ERANGE")
        if value < INT64_MIN:
            return Parsed(INT64_MIN, end, "ERANGE")
        return Parsed(value, end)
    if magnitude > UINT64_MAX:
        return Parsed(UINT64_MAX, end, "ERANGE")
    # strtoull negates in unsigned arithmetic: "-1" is UINT64_MAX, not an error.
    return Parsed((-magnitude) % 2**64 if negative else magnitude, end)


def qemu_strto(text: str, start: int, base: int, signed: bool) -> Parsed:
    """qemu_strtoi64/qemu_strtou64 with an end pointer: errno-style result, trailing text allowed."""
    return strtox(text, start, base, signed)


def qemu_strto_full(text: str, base: int, signed: bool) -> int | None:
    """qemu_strtoi64/qemu_strtou64 without an end pointer: the whole text or None."""
    parsed = strtox(text, 0, base, signed)
    if parsed.error or parsed.end != len(text):
        return None
    return parsed.value
