"""qemu_strtosz as QEMU reads sizes: decimal with an optional fraction, or hex, and a suffix.

Two dialects, chosen by the profile's size_dialect.

"7.2", verified on qemu-system-x86_64 7.2 (fixtures/cli-visitors/cases.json): "1."
and "1.0" are 1 (a zero fraction needs no suffix), "1.5" is invalid, "0.0005k" is 1
(the 64.64 fixed-point product rounds half up), ".5k", "1e3" and "-0" are invalid,
"0x1k" is 1024 with a deprecation warning, "16E" is out of range, and an
overflowing integral part followed by more text is invalid, not out of range.

"8.1" (the rewrite in QEMU 8.1, seen on 10.0 and 11.1): the integral part is
parse_uint's, so any minus sign ("-1", "-0") is out of range; hex takes neither a
suffix nor a fraction (invalid, no warning); a fraction may stand without integral
digits (".5k" is 512, ".0" is 0, "-.5" out of range); a fraction that rounds to 1
carries into the integral part; a nonzero fraction too small for 64 bits counts as
the smallest one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from reference.qapi.c_numbers import C_SPACE, strtox

_SHIFTS = {"B": 0, "K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}
# strtod's decimal syntax after the integral digits: '.', digits, an optional exponent.
_FRACTION = re.compile(r"\.[0-9]*([eE][+-]?[0-9]+)?")
# strtod of a decimal without exponent (8.1 cuts the text at its first 'e'/'E' first).
_DECIMAL = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]*\.?[0-9]*)")
HEX_SUFFIX_WARNING = "Using a multiplier suffix on hex numbers is deprecated: {text}"
DIALECTS = ("7.2", "8.1")


class SizeAbstains(Exception):
    """An input whose value C leaves undefined (a fraction that rounds to 1)."""


@dataclass(frozen=True)
class Size:
    value: int = 0
    error: str = ""  # "" | "EINVAL" | "ERANGE"
    warning: str = ""  # the hex-with-suffix deprecation warning, when printed


def _suffix_shift(char: str) -> int | None:
    return _SHIFTS.get(char.upper()) if char else None


def strtosz(text: str, dialect: str = "7.2") -> Size:
    """qemu_strtosz(text, NULL, &value): bytes by default, 1024-based suffixes."""
    if dialect == "8.1":
        return _strtosz_81(text)
    assert dialect == "7.2", dialect
    integral = strtox(text, 0, 10, signed=False)
    if integral.error:
        return _finish(text, integral.end, Size(error=integral.error))
    if "-" in text[: integral.end]:
        return Size(error="EINVAL")
    value, end, fraction, hexadecimal = integral.value, integral.end, Fraction(0), False
    if value == 0 and text[end : end + 1] in ("x", "X"):
        reparsed = strtox(text, 0, 16, signed=False)
        if reparsed.error:
            return _finish(text, reparsed.end, Size(error=reparsed.error))
        value, end, hexadecimal = reparsed.value, reparsed.end, True
        if text[end : end + 1] == ".":
            return Size(error="EINVAL")
    elif text[end : end + 1] == ".":
        match = _FRACTION.match(text, end)
        assert match is not None
        if match.group(1):  # an exponent makes the whole input invalid
            return Size(error="EINVAL")
        digits = match.group()
        end = match.end()
        # strtod of ".ddd" then a cast of fraction * 2^64 to uint64_t.
        double = float("0" + digits) if digits != "." else 0.0
        if double >= 1.0:
            raise SizeAbstains(f"size {text!r}: its fraction rounds to 1, undefined in C")
        fraction = Fraction(int(Fraction(double) * 2**64), 2**64)
    shift = _suffix_shift(text[end : end + 1])
    warning = ""
    if shift is not None:
        if hexadecimal:
            warning = HEX_SUFFIX_WARNING.format(text=text)
        end += 1
    else:
        shift = 0
    return _scale(text, value, fraction, shift, end, warning)


def _scale(text: str, value: int, fraction: Fraction, shift: int, end: int, warning: str = "") -> Size:
    """value.fraction times 2^shift in 128.64 fixed point, half rounded up; a fraction needs a suffix."""
    if shift == 0:
        if fraction:
            return Size(error="EINVAL")
    else:
        scaled = (value << shift) + fraction * (1 << shift)
        value = int(scaled)
        if scaled - value >= Fraction(1, 2):  # the low 64 bits' top bit rounds up
            value += 1
        if value >= 2**64:
            return _finish(text, end, Size(error="ERANGE", warning=warning))
    return _finish(text, end, Size(value=value, warning=warning))


def _strtosz_81(text: str) -> Size:
    integral = strtox(text, 0, 10, signed=False)
    start = len(text) - len(text.lstrip(C_SPACE))
    if not integral.error and text[start : start + 1] == "-":
        integral = type(integral)(0, integral.end, "ERANGE")  # parse_uint refuses any minus sign
    if integral.error == "ERANGE":
        return _finish(text, integral.end, Size(error="ERANGE"))
    value, end, fraction = integral.value, integral.end, Fraction(0)
    parsed = not integral.error
    if parsed and value == 0 and text[end : end + 1] in ("x", "X"):
        reparsed = strtox(text, 0, 16, signed=False)
        if reparsed.error:
            return _finish(text, reparsed.end, Size(error=reparsed.error))
        value, end = reparsed.value, reparsed.end
        after = text[end : end + 1]
        if after == "." or _suffix_shift(after) is not None:
            return Size(error="EINVAL")
    elif (parsed and text[end : end + 1] == ".") or (not parsed and "." in text):
        if parsed and text[end + 1 : end + 2] not in tuple("0123456789"):
            end += 1  # "1." and "1.k": a point without digits
        else:
            match = _DECIMAL.match(text, end)
            assert match is not None
            digits = match.group(2)
            # strtod reads at least one digit; infinity and NaN are refused as not finite.
            if not any(c.isdigit() for c in digits):
                return Size(error="EINVAL")
            if match.group(1) == "-":  # signbit(), even of -0.0
                return _finish(text, match.end(), Size(error="ERANGE"))
            end = match.end()
            exact = Fraction(digits if digits[0] != "." else "0" + digits)
            double = float(exact)
            if double == 1.0:  # the fraction rounded up to one: carry
                if value == 2**64 - 1:
                    return _finish(text, end, Size(error="ERANGE"))
                value += 1
            elif exact:
                # The cast truncates; a nonzero fraction (or strtod's underflow) keeps at least 1.
                fraction = Fraction(max(1, int(Fraction(double) * 2**64)), 2**64)
    elif not parsed:
        return Size(error="EINVAL")
    shift = _suffix_shift(text[end : end + 1])
    if shift is not None:
        end += 1
    else:
        shift = 0
    return _scale(text, value, fraction, shift, end)


def _finish(text: str, end: int, result: Size) -> Size:
    """The whole string must be read: anything left over is EINVAL, whatever came before."""
    if end < len(text):
        return Size(error="EINVAL", warning=result.warning)
    return result
