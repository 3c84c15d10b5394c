"""QEMU 7.2's QObject input visitor in keyval mode, driven by introspection.

Input is a keyval tree (reference.qapi.keyval): every scalar is a string that
the visitor converts to the type it expects. Differences from strict mode:
list items are named ".i" (not "[i]"), a QDict or list where a scalar is
expected is "Parameters 'X.*' are unexpected", and an alternate takes a
string to its string or enum branch, a QDict to its object branch.

Introspection folds every integer type into "int"; they differ in what they
accept and say (int64 and uint64: "expects integer", size: "expects size",
narrow types a range check naming the C type). Where that matters the visit
abstains, unless the caller knows the member's C type (`int_kinds`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from reference.profiles import Profile
from reference.qapi.input_visitor import VisitAbstains, VisitError, unexpected
from reference.qapi.introspection import Schema, TypeInfo, object_members
from reference.qapi.strtosz import SizeAbstains, strtosz
from reference.qobject.values import QDict, QObject

__all__ = ["INT_KINDS", "KeyvalVisitor", "VisitAbstains", "VisitError", "parse_int", "parse_size"]

# Every QAPI integer type accepts these strings alike (decimal 0..127).
_SAFE_INT = re.compile(r"(0|[1-9][0-9]{0,2})")
_SAFE_INT_MAX = 127

# C integer types: (min, max, name in range errors or "" when strtoi64/strtou64 already bound it).
INT_KINDS: dict[str, tuple[int, int, str]] = {
    "int8": (-(2**7), 2**7 - 1, "int8_t"),
    "int16": (-(2**15), 2**15 - 1, "int16_t"),
    "int32": (-(2**31), 2**31 - 1, "int32_t"),
    "int64": (-(2**63), 2**63 - 1, ""),
    "uint8": (0, 2**8 - 1, "uint8_t"),
    "uint16": (0, 2**16 - 1, "uint16_t"),
    "uint32": (0, 2**32 - 1, "uint32_t"),
    "uint64": (0, 2**64 - 1, ""),
}
_UNSIGNED_VIA_U64 = {"uint8", "uint16", "uint32", "uint64"}

# strtol-style integers: optional space and sign, base prefix (base 0).
_C_INT = re.compile(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_BOOL_TRUE = frozenset({"on", "yes", "true", "y"})
_BOOL_FALSE = frozenset({"off", "no", "false", "n"})


def _c_int(text: str) -> tuple[int, int] | None:
    """(sign, magnitude) of a whole-string C integer in base 0, else None."""
    match = _C_INT.fullmatch(text)
    if match is None:
        return None
    digits = match.group(2)
    if digits.lower().startswith("0x"):
        magnitude = int(digits[2:], 16)
    elif digits.startswith("0") and len(digits) > 1:
        magnitude = int(digits[1:], 8)
    else:
        magnitude = int(digits)
    return (-1 if match.group(1) == "-" else 1), magnitude


def parse_int(text: str, kind: str) -> int | None:
    """The value qemu_strtoi64 (signed kinds) or qemu_strtou64 (unsigned) reads, or None."""
    parsed = _c_int(text)
    if parsed is None:
        return None
    sign, magnitude = parsed
    if kind in _UNSIGNED_VIA_U64:
        if magnitude > 2**64 - 1:
            return None
        return (sign * magnitude) % 2**64  # strtoull negates in unsigned arithmetic
    value = sign * magnitude
    return value if -(2**63) <= value < 2**63 else None


def parse_size(text: str, dialect: str = "7.2") -> int | None:
    """qemu_strtosz over the whole text (reference.qapi.strtosz), or None when it fails."""
    size = strtosz(text, dialect)
    return None if size.error else size.value


@dataclass(frozen=True)
class _Path:
    parts: tuple[str | int, ...] = ()

    def child(self, part: str | int) -> _Path:
        return _Path((*self.parts, part))

    def render(self) -> str:
        return ".".join(str(part) for part in self.parts) or "<anonymous>"


class KeyvalVisitor:
    """Check a keyval tree against a type; raise VisitError or VisitAbstains unless QEMU accepts it.

    int_kinds maps a member path (discriminator value, then member names; list
    items as "*") to its C integer type ("int64", "uint64", "size", "int8", ...).
    """

    def __init__(self, schema: Schema, profile: Profile, int_kinds: Mapping[tuple[str, ...], str]) -> None:
        self.schema = schema
        self.profile = profile
        self.int_kinds = int_kinds
        self._root_case = ""  # the root union's discriminator value: int_kinds are keyed by it

    def check(self, type_name: str, tree: QDict) -> None:
        self._root_case = ""
        self._visit(type_name, tree, _Path(), None)

    def _error(self, message: str) -> VisitError:
        return VisitError(frozenset({message}))

    def _type_error(self, path: _Path, expected: str) -> VisitError:
        return self._error(f"Invalid parameter type for '{path.render()}', expected: {expected}")

    def _scalar(self, value: QObject, path: _Path) -> str:
        """The string a scalar visit reads; a QDict or list there is an error."""
        if isinstance(value, (QDict, list)):
            raise self._error(f"Parameters '{path.render()}.*' are unexpected")
        assert isinstance(value, str), "keyval trees hold only strings"
        return value

    def _visit(self, type_name: str, value: QObject, path: _Path, bare: str | None) -> None:
        info = self.schema.type(type_name)
        if info.meta == "object":
            self._visit_object(info, value, path)
        elif info.meta == "array":
            if not isinstance(value, list):
                raise self._type_error(path, "array")
            for index, item in enumerate(value):
                self._visit(info.element, item, path.child(index), None)
        elif info.meta == "enum":
            text = self._scalar(value, path)
            if text not in info.values:
                name = bare if bare is not None else "null"
                raise self._error(self.profile.enum_message.format(name=name, value=text))
        elif info.meta == "alternate":
            self._visit_alternate(info, value, path, bare)
        else:
            self._visit_builtin(info, value, path, bare)

    def _visit_builtin(self, info: TypeInfo, value: QObject, path: _Path, bare: str | None) -> None:
        kind = info.json_type
        if kind == "value":  # 'any' takes the tree as it is
            return
        if kind == "null":
            raise self._type_error(path, "null")  # a keyval leaf is a string, never null
        text = self._scalar(value, path)
        if kind == "boolean" and text not in _BOOL_TRUE | _BOOL_FALSE:
            raise self._error(f"Parameter '{path.render()}' expects 'on' or 'off'")
        if kind == "number" and not _finite_double(text):
            raise self._type_error(path, "number")
        if kind == "int":
            self._visit_int(text, path, bare)

    def _visit_int(self, text: str, path: _Path, bare: str | None) -> None:
        if _SAFE_INT.fullmatch(text) and int(text) <= _SAFE_INT_MAX:
            return
        key = (self._root_case, *("*" if isinstance(p, int) else p for p in path.parts))
        kind = self.int_kinds.get(key)
        if kind is None:
            raise VisitAbstains(f"integer member '{path.render()}' = {text!r}: its C type is masked")
        if kind == "size":
            try:
                size = strtosz(text, self.profile.size_dialect)
            except SizeAbstains as err:
                raise VisitAbstains(str(err)) from None
            if size.warning:  # 7.2's hex-with-suffix warning: this visitor predicts no stderr lines
                raise VisitAbstains(f"size member '{path.render()}' = {text!r} prints a warning")
            if size.error:
                raise self._error(f"Parameter '{path.render()}' expects size")
            return
        number = parse_int(text, kind)
        if number is None:
            raise self._error(f"Parameter '{path.render()}' expects integer")
        low, high, c_name = INT_KINDS[kind]
        if c_name and not low <= number <= high:
            # The range check names the bare member, like enum errors.
            raise self._error(f"Parameter '{bare if bare is not None else 'null'}' expects {c_name}")

    def _visit_object(self, info: TypeInfo, value: QObject, path: _Path) -> None:
        if not isinstance(value, QDict):
            raise self._type_error(path, "object")
        unvisited = set(value.keys())
        members = object_members(self.schema, info, value)
        base = len(info.members)
        for index, member in enumerate(members):
            if index == base and not path.parts:
                # The branch is chosen once the base (tag included) checked out.
                tag_value = value.get(info.tag)
                if isinstance(tag_value, str):
                    self._root_case = tag_value
            self._visit_member(member.name, member.type, member.optional, value, path, unvisited)
        if unvisited:
            raise unexpected(path.child(key).render() for key in unvisited)

    def _visit_member(
        self, name: str, type_name: str, optional: bool, container: QDict, path: _Path, unvisited: set[str]
    ) -> None:
        member_path = path.child(name)
        member_value = container.get(name)
        if member_value is None:
            if optional:
                return
            raise self._error(f"Parameter '{member_path.render()}' is missing")
        unvisited.discard(name)
        self._visit(type_name, member_value, member_path, name)

    def _visit_alternate(self, info: TypeInfo, value: QObject, path: _Path, bare: str | None) -> None:
        for variant in info.variants:
            branch = self.schema.type(variant.type)
            if _takes(branch, value):
                self._visit(variant.type, value, path, bare)
                return
        raise VisitAbstains(f"alternate {info.name}: QEMU's message names its masked type")


def _takes(branch: TypeInfo, value: QObject) -> bool:
    """Whether a keyval value goes to this alternate branch (by QObject type only)."""
    if isinstance(value, QDict):
        return branch.meta == "object"
    if isinstance(value, list):
        return branch.meta == "array"
    return branch.meta == "enum" or (branch.meta == "builtin" and branch.json_type == "string")


_C_DOUBLE = re.compile(
    r"[ \t\n\v\f\r]*[+-]?("
    r"([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
    r"|0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?[0-9]+)?"
    r")"
)


def _finite_double(text: str) -> bool:
    """qemu_strtod_finite on the whole string: a finite number that does not overflow."""
    if not _C_DOUBLE.fullmatch(text):
        return False
    body = text.strip(" \t\n\v\f\r")
    try:
        number = float.fromhex(body) if "x" in body.lower() else float(body)
    except (ValueError, OverflowError):
        return False
    return math.isfinite(number)
