"""QEMU's string output visitor: how one typed value becomes one line of text.

HMP prints QOM properties through it: `info qtree` in human mode (ints with
their hex form, sizes with size_to_str's unit, strings quoted), `info memdev`
and `info network` in plain mode. Integer lists collapse into ranges kept in
a sorted, merged range list ("0-3,5"); other lists join with ", "; a struct
prints "<omitted>" whatever it holds. Values are visited the way QEMU's
generated visitors walk them, so the list state machine (started, in
progress, last element) decides what is printed, quirks included:
uint64 values above INT64_MAX print as negative numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

INT64_MIN = -(2**63)
UINT64 = 2**64

# Integer kinds: QEMU routes every one of them through print_type_int64.
INT_KINDS = frozenset({"int", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})
SCALAR_KINDS = INT_KINDS | {"size", "bool", "str", "number", "null", "enum"}
SIZE_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


class StringOutputAbort(Exception):
    """QEMU would fail an assertion (abort) printing this value."""


@dataclass(frozen=True)
class ListOf:
    """A QAPI list type; elements are of `element` (a scalar kind or "struct")."""

    element: str


TypeSpec = str | ListOf


def _signed(value: int) -> int:
    """An integer as QEMU's int64_t holds it (uint64 values wrap)."""
    value %= UINT64
    return value - UINT64 if value >= 2**63 else value


def size_to_str(value: int) -> str:
    """util/cutils.c size_to_str(): three significant digits, binary units, switching
    up a unit once the integer part would reach 1000 (so 1023 is "0.999 KiB")."""
    value %= UINT64
    _, exponent = math.frexp(float(value) / (1000.0 / 1024.0))
    index = int((exponent - 1) / 10)  # C division truncates towards zero: frexp(0) gives 0
    # printf's own format, as QEMU writes it ("1e+03 KiB" included).
    return "%0.3g %sB" % (float(value) / (1 << (index * 10)), SIZE_SUFFIXES[index])  # noqa: UP031


@dataclass
class _Range:
    lob: int  # unsigned 64-bit bounds, as util/range.c keeps them
    upb: int


def _compare(a: _Range, b: _Range) -> int:
    """range_compare(): -1/1 when apart by a gap, 0 when they overlap or touch."""
    if b.lob and b.lob - 1 > a.upb:
        return -1
    if a.lob and a.lob - 1 > b.upb:
        return 1
    return 0


def range_list_insert(ranges: list[_Range], new: _Range) -> None:
    """Insert keeping the list sorted, merging ranges that overlap or touch."""
    index = 0
    while index < len(ranges) and _compare(ranges[index], new) < 0:
        index += 1
    if index == len(ranges) or _compare(ranges[index], new) > 0:
        ranges.insert(index, new)
        return
    here = ranges[index]
    here.lob, here.upb = min(here.lob, new.lob), max(here.upb, new.upb)
    while index + 1 < len(ranges) and _compare(here, ranges[index + 1]) == 0:
        after = ranges.pop(index + 1)
        here.lob, here.upb = min(here.lob, after.lob), max(here.upb, after.upb)


def _format_range(r: _Range, human: bool) -> str:
    if human:
        return f"0x{r.lob:x}" if r.lob == r.upb else f"0x{r.lob:x}-0x{r.upb:x}"
    lob, upb = _signed(r.lob), _signed(r.upb)
    return str(lob) if lob == upb else f"{lob}-{upb}"


class StringOutputVisitor:
    """One visit, one string (string_output_visitor_new(human, &result))."""

    NONE, STARTED, IN_PROGRESS, END = range(4)

    def __init__(self, human: bool) -> None:
        self.human = human
        self.text = ""
        self.mode = self.NONE
        self.range_start = 0
        self.range_end = 0
        self.ranges: list[_Range] = []
        self.struct_nesting = 0

    # -- building blocks ------------------------------------------------------

    def _set(self, text: str) -> None:
        if self.mode == self.STARTED:
            self.mode = self.IN_PROGRESS
            self.text = text
        elif self.mode == self.NONE:
            self.text = text
        else:
            self.text += ", " + text

    def _append(self, low: int, high: int) -> None:
        range_list_insert(self.ranges, _Range(low % UINT64, high % UINT64))

    def _flush_run(self) -> None:
        if self.range_start == self.range_end:
            self._append(self.range_end, self.range_end)
            return
        if not self.range_start < self.range_end:
            raise StringOutputAbort("assertion range_start < range_end fails")
        self._append(self.range_start, self.range_end)

    # -- the visitor's callbacks ---------------------------------------------

    def type_int64(self, value: int) -> None:
        if self.struct_nesting:
            return
        value = _signed(value)
        if self.mode == self.NONE:
            self._append(value, value)
        elif self.mode == self.STARTED:
            self.range_start = self.range_end = value
            self.mode = self.IN_PROGRESS
            return
        elif self.mode == self.IN_PROGRESS:
            if _signed(self.range_end + 1) == value:  # int64 arithmetic wraps in practice
                self.range_end = value
            else:
                self._flush_run()
                self.range_start = self.range_end = value
            return
        elif _signed(self.range_end + 1) == value:  # the last element
            self.range_end = value
            if not self.range_start < self.range_end:
                raise StringOutputAbort("assertion range_start < range_end fails")
            self._append(self.range_start, self.range_end)
        else:
            self._flush_run()
            self._append(value, value)
        self.text += ",".join(_format_range(r, False) for r in self.ranges)
        if self.human:
            self.text += " (" + ",".join(_format_range(r, True) for r in self.ranges) + ")"

    def type_size(self, value: int) -> None:
        if self.struct_nesting:
            return
        value %= UINT64
        self._set(f"{value} ({size_to_str(value)})" if self.human else str(value))

    def type_bool(self, value: bool) -> None:
        if not self.struct_nesting:
            self._set("true" if value else "false")

    def type_str(self, value: str | None) -> None:
        if self.struct_nesting:
            return
        if self.human:
            self._set("<null>" if value is None else f'"{value}"')
        else:
            self._set(value or "")

    def type_number(self, value: float) -> None:
        if not self.struct_nesting:
            self._set("%.17g" % value)  # noqa: UP031  # printf's %.17g

    def type_null(self) -> None:
        if not self.struct_nesting:
            self._set("<null>" if self.human else "")

    def start_struct(self) -> None:
        self.struct_nesting += 1

    def end_struct(self) -> None:
        self.struct_nesting -= 1
        if not self.struct_nesting:
            self._set("<omitted>")

    def start_list(self, length: int) -> None:
        if self.struct_nesting:
            return
        if self.mode != self.NONE:
            raise StringOutputAbort("a list inside a list")
        if length >= 2:  # only lists of two or more need the list state
            self.mode = self.STARTED

    def next_list(self, remaining_after: int) -> None:
        """Called before every element but the first; remaining_after counts those after it."""
        if not self.struct_nesting and remaining_after == 0:
            self.mode = self.END

    def end_list(self) -> None:
        if not self.struct_nesting:
            self.mode = self.NONE

    # -- walking a value ------------------------------------------------------

    def visit(self, spec: TypeSpec, value: object) -> None:
        if isinstance(spec, ListOf):
            if not isinstance(value, Sequence) or isinstance(value, str):
                raise TypeError(f"a list value is needed for {spec}, not {value!r}")
            self.start_list(len(value))
            for index, item in enumerate(value):
                if index:
                    self.next_list(len(value) - index - 1)
                self.visit(spec.element, item)
            self.end_list()
        elif spec == "struct":
            # Members are visited but print nothing: only "<omitted>" at the end.
            self.start_struct()
            self.end_struct()
        elif spec in INT_KINDS:
            self.type_int64(_int(value))
        elif spec == "size":
            self.type_size(_int(value))
        elif spec == "bool":
            if not isinstance(value, bool):
                raise TypeError(f"{value!r} is not a bool")
            self.type_bool(value)
        elif spec in ("str", "enum"):  # an output visitor prints an enum as its name
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{value!r} is not a string")
            self.type_str(value)
        elif spec == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{value!r} is not a number")
            self.type_number(float(value))
        elif spec == "null":
            self.type_null()
        else:
            raise ValueError(f"unknown type {spec!r}")


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{value!r} is not an integer")
    return value


def format_value(spec: TypeSpec, value: object, *, human: bool) -> str:
    """The string object_property_print() returns for a property of this type."""
    visitor = StringOutputVisitor(human)
    visitor.visit(spec, value)
    return visitor.text


def parse_spec(text: str) -> TypeSpec:
    """A fixture's type name ("uint16", "list<uint16>") as a TypeSpec."""
    if text.startswith("list<") and text.endswith(">"):
        element = text[5:-1]
        if element not in SCALAR_KINDS | {"struct"}:
            raise ValueError(f"unknown list element type {element!r}")
        return ListOf(element)
    if text not in SCALAR_KINDS | {"struct"}:
        raise ValueError(f"unknown type {text!r}")
    return text
