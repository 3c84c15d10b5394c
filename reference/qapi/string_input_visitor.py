"""QEMU 7.2's string input visitor: one string read as a scalar or as a list of integers.

QEMU uses it where a property value arrives as text: object_property_parse()
(`-global`, `-accel tcg,PROP=V`, HMP `qom-set`, `-cpu` features) and HMP
`migrate_set_parameter`. Each visit either returns the value or raises
StringVisitError with QEMU's message. `name` is the visited member's name;
QEMU says 'null' where there is none (list elements have none).

Facts verified on qemu-system-x86_64 7.2 (fixtures/cli-visitors/cases.json):
integers are strtoll/strtoull in base 0 over the whole string ("Parameter 'x'
expects int64" / "expects uint64"; "-1" is a uint64, 2^64-1); narrower types
then fail the core's range check naming the C type ("expects uint32_t");
booleans are on/yes/true/y and off/no/false/n, case-sensitive ("expects 'on'
or 'off'"); sizes use parse_option_size's wording and its hint; integer lists
take "a", "a-b" and commas, at most 65536 elements per range, "" is empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reference.profiles import Profile
from reference.qapi.c_numbers import qemu_strto, qemu_strto_full
from reference.qapi.keyval_visitor import INT_KINDS, _finite_double
from reference.qapi.strtosz import SizeAbstains, strtosz

__all__ = [
    "RANGE_MAX_ELEMENTS",
    "SIZE_HINT",
    "SizeAbstains",
    "StringVisitError",
    "visit_bool",
    "visit_enum",
    "visit_int",
    "visit_int_list",
    "visit_null",
    "visit_number",
    "visit_size",
    "visit_str",
]

RANGE_MAX_ELEMENTS = 65536
SIZE_HINT = (
    "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively."
)
# check_list()'s error; generated visits stop at the list's end, so it never shows.
FEWER_ELEMENTS = "Fewer list elements expected"
TRUE_WORDS = ("on", "yes", "true", "y")
FALSE_WORDS = ("off", "no", "false", "n")


@dataclass(frozen=True)
class StringVisitError(Exception):
    message: str
    hint: str = ""  # error_append_hint() text, printed after the message by error_report_err
    warning: str = ""  # a warning the visit printed before it failed


@dataclass(frozen=True)
class SizeValue:
    value: int
    warning: str = ""  # printed (warn_report) even though the visit succeeds


def _shown(name: str | None) -> str:
    return name if name is not None else "null"


def _expects(name: str | None, what: str) -> StringVisitError:
    return StringVisitError(f"Parameter '{_shown(name)}' expects {what}")


def _base_kind(kind: str) -> str:
    return "int64" if kind.startswith("int") else "uint64"


def _range_check(value: int, name: str | None, kind: str) -> int:
    """visit_type_intN/uintN: the core checks a narrow type after the 64-bit visit."""
    low, high, c_name = INT_KINDS[kind]
    if c_name and not low <= value <= high:
        raise _expects(name, c_name)
    return value


def visit_int(text: str, name: str | None, kind: str) -> int:
    """A scalar integer of C type `kind` (int8 .. uint64): the whole string in base 0."""
    base = _base_kind(kind)
    value = qemu_strto_full(text, 0, signed=base == "int64")
    if value is None:
        raise _expects(name, base)
    return _range_check(value, name, kind)


def visit_int_list(text: str, kind: str) -> list[int]:
    """A list of integers of C type `kind`: "1,3-5" is [1, 3, 4, 5]; elements are unnamed."""
    signed = _base_kind(kind) == "int64"
    values: list[int] = []
    pos = 0
    while pos < len(text):
        start, end, pos = _list_entry(text, pos, signed)
        for value in range(start, end + 1):
            values.append(_range_check(value, None, kind))
    return values


def _list_entry(text: str, pos: int, signed: bool) -> tuple[int, int, int]:
    """One "a" or "a-b" entry at pos: (start, end, position after it and its comma)."""
    error = _expects(None, f"list of {'int64' if signed else 'uint64'} values or ranges")
    first = qemu_strto(text, pos, 0, signed)
    if first.error:
        raise error
    start = end = first.value
    pos = first.end
    if text.startswith("-", pos):
        second = qemu_strto(text, pos + 1, 0, signed)
        if second.error:
            raise error
        end, pos = second.value, second.end
        if start > end or end - start >= RANGE_MAX_ELEMENTS:
            raise error
    if pos == len(text):
        return start, end, pos
    if text[pos] == ",":
        return start, end, pos + 1
    raise error


def visit_bool(text: str, name: str | None) -> bool:
    """qapi_bool_parse(): exact, case-sensitive words."""
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise _expects(name, "'on' or 'off'")


def visit_number(text: str, name: str | None) -> float:
    """qemu_strtod_finite() over the whole string."""
    if not _finite_double(text):
        raise _expects(name, "number")
    value = float.fromhex(text.strip()) if "x" in text.lower() else float(text)
    assert math.isfinite(value)
    return value


def visit_size(text: str, name: str | None, dialect: str = "7.2") -> SizeValue:
    """parse_option_size(): its two wordings; a missing name prints as C's "(null)"."""
    shown = name if name is not None else "(null)"
    size = strtosz(text, dialect)
    if size.error == "ERANGE":
        raise StringVisitError(
            f"Value '{text}' is out of range for parameter '{shown}'", warning=size.warning
        )
    if size.error:
        message = f"Parameter '{shown}' expects a non-negative number below 2^64"
        raise StringVisitError(message, SIZE_HINT, size.warning)
    return SizeValue(size.value, size.warning)


def visit_str(text: str, name: str | None) -> str:
    return text


def visit_null(text: str, name: str | None) -> None:
    if text:
        raise StringVisitError(f"Invalid parameter type for '{_shown(name)}', expected: null")


def visit_enum(text: str, name: str | None, values: tuple[str, ...], profile: Profile) -> str:
    """A string, then the enum lookup (the core's input_type_enum)."""
    if text not in values:
        raise StringVisitError(profile.enum_message.format(name=_shown(name), value=text))
    return text
