"""QEMU 7.2's opts visitor: a QemuOpts list read as a flat QAPI struct or flat union.

Used where an option is QemuOpts-based and converted with opts_visitor_new():
`-numa` (NumaOptions), `-netdev` in its key=value form (Netdev), `-acpitable`
(AcpiTableOptions). Nested structs read from the same flat keys. A key given
several times is a list when the member is a list (every occurrence, in order)
and otherwise its last value wins. Facts verified on qemu-system-x86_64 7.2:

- integers: signed ones strtoll in base 0, "Parameter 'k' expects an int64
  value"; unsigned ones reject a minus sign, "expects a uint64 value"; narrow
  types then fail the core's range check naming the C type ("expects uint16_t");
- integer list elements may be ranges "a-b" (at most 65536 elements, a <= b;
  signed ranges starting within 65536 of INT64_MAX are not bounded), with
  "expects a uint64 value or range"; the range check names list elements 'null';
- sizes: qemu_strtosz, "expects a size value"; booleans: qapi_bool_parse
  (on/yes/true/y, off/no/false/n), "expects 'on' or 'off'";
- an absent mandatory member is "Parameter 'k' is missing"; any key left over
  is "Invalid parameter 'k'" (the first in GHashTable order: any of them);
- the options' id, when given, is one more key (the union's "id" member, or an
  invalid parameter where the type has none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reference.profiles import Profile
from reference.qapi.c_numbers import INT64_MAX, strtox
from reference.qapi.input_visitor import VisitAbstains, VisitError
from reference.qapi.introspection import Schema, TypeInfo, object_members
from reference.qapi.keyval_visitor import INT_KINDS
from reference.qapi.qemu_opts import QemuOpts
from reference.qapi.strtosz import SizeAbstains, strtosz
from reference.qobject.values import QDict

__all__ = ["OPTS_RANGE_MAX", "OptsVisit", "OptsVisitor", "VisitAbstains", "VisitError"]

OPTS_RANGE_MAX = 65536
TRUE_WORDS = ("on", "yes", "true", "y")
FALSE_WORDS = ("off", "no", "false", "n")

Value = str | bool | int | list[int] | list[str]


@dataclass
class OptsVisit:
    """What a successful visit read, by member name, and the warnings it printed."""

    values: dict[str, Value] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _error(message: str) -> VisitError:
    return VisitError(frozenset({message}))


def _expects(name: str, what: str) -> VisitError:
    return _error(f"Parameter '{name}' expects {what}")


class OptsVisitor:
    """Visit QemuOpts against a type; raise VisitError, or VisitAbstains where not modelled.

    int_kinds maps (union case or "", member name) to the member's C integer type
    ("int64", "uint16", ..., "size"): introspection folds them all into "int".
    """

    def __init__(self, schema: Schema, profile: Profile, int_kinds: Mapping[tuple[str, str], str]) -> None:
        self.schema = schema
        self.profile = profile
        self.int_kinds = int_kinds
        self.warnings: list[str] = []  # printed by the last visit, even one that failed

    def visit(self, type_name: str, opts: QemuOpts) -> OptsVisit:
        # Every occurrence of a key, in order; the id joins last (the fake id opt).
        self._unprocessed: dict[str, list[str]] = {}
        for name, value in opts.pairs:
            self._unprocessed.setdefault(name, []).append(value)
        if opts.id is not None:
            self._unprocessed.setdefault("id", []).append(opts.id)
        self.warnings = []
        self._result = OptsVisit(warnings=self.warnings)
        self._case = ""
        self._visit_struct(self.schema.type(type_name))
        if self._unprocessed:
            raise VisitError(frozenset(f"Invalid parameter '{name}'" for name in self._unprocessed))
        return self._result

    def _visit_struct(self, info: TypeInfo) -> None:
        last = QDict({name: values[-1] for name, values in self._unprocessed.items()})
        members = object_members(self.schema, info, last)
        for index, member in enumerate(members):
            if index == len(info.members) and info.tag:
                tag = self._result.values.get(info.tag)
                self._case = tag if isinstance(tag, str) else ""
            if member.name not in self._unprocessed:
                member_info = self.schema.type(member.type)
                if member.optional:
                    continue
                if member_info.meta == "object":
                    # A nested struct has no key of its own: its members are flat keys.
                    self._visit_struct(member_info)
                    continue
                raise _error(f"Parameter '{member.name}' is missing")
            self._visit_member(member.name, self.schema.type(member.type))

    def _visit_member(self, name: str, info: TypeInfo) -> None:
        if info.meta == "array":
            self._result.values[name] = self._visit_list(name, self.schema.type(info.element))
            del self._unprocessed[name]
            return
        if info.meta == "object":
            self._visit_struct(info)
            return
        text = self._unprocessed[name][-1]
        if info.meta == "enum":
            del self._unprocessed[name]  # consumed even when the value is rejected
            if text not in info.values:
                raise _error(self.profile.enum_message.format(name=name, value=text))
            self._result.values[name] = text
            return
        if info.meta != "builtin" or info.json_type not in ("string", "boolean", "int"):
            raise VisitAbstains(f"member '{name}' of kind {info.meta}/{info.json_type} in an opts visit")
        if info.json_type == "string":
            value: Value = text
        elif info.json_type == "boolean":
            value = self._bool(name, text)
        else:
            value = self._scalar_int(name, text)
        del self._unprocessed[name]
        self._result.values[name] = value

    def _kind(self, name: str) -> str:
        kind = self.int_kinds.get((self._case, name)) or self.int_kinds.get(("", name))
        if kind is None:
            raise VisitAbstains(f"integer member '{name}': its C type is not known")
        return kind

    def _bool(self, name: str, text: str) -> bool:
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise _expects(name, "'on' or 'off'")

    def _scalar_int(self, name: str, text: str) -> int:
        kind = self._kind(name)
        if kind == "size":
            try:
                size = strtosz(text, self.profile.size_dialect)
            except SizeAbstains as err:
                raise VisitAbstains(str(err)) from None
            if size.warning:
                self._result.warnings.append(f"warning: {size.warning}")
            if size.error:
                raise _expects(name, "a size value")
            return size.value
        signed = kind.startswith("int")
        parsed = _int_prefix(text, signed)
        if parsed is None or parsed[1] != len(text):
            raise _expects(name, "an int64 value" if signed else "a uint64 value")
        return _range_check(parsed[0], name, kind)

    def _visit_list(self, name: str, element: TypeInfo) -> list[int] | list[str]:
        occurrences = self._unprocessed[name]
        if element.meta == "object" and [m.type for m in element.members] == ["str"]:
            return list(occurrences)  # a list of String: one per occurrence, nothing to reject
        if element.meta != "builtin" or element.json_type != "int":
            raise VisitAbstains(f"list member '{name}' of {element.meta} elements")
        kind = self._kind(name)
        values: list[int] = []
        for text in occurrences:
            start, end = _list_entry(name, text, kind.startswith("int"))
            values.extend(_range_check(v, None, kind) for v in range(start, end + 1))
        return values


def _int_prefix(text: str, signed: bool) -> tuple[int, int] | None:
    """strtoll (signed) or parse_uint (no minus sign allowed): (value, end) or None."""
    parsed = strtox(text, 0, 0, signed)
    if parsed.error:
        return None
    if not signed and text.lstrip(" \t\n\v\f\r").startswith("-"):
        return None
    return parsed.value, parsed.end


def _list_entry(name: str, text: str, signed: bool) -> tuple[int, int]:
    """One occurrence of a list key: "a" or "a-b" as (start, end)."""
    error = _expects(name, "an int64 value or range" if signed else "a uint64 value or range")
    first = _int_prefix(text, signed)
    if first is None:
        raise error
    start, pos = first
    if pos == len(text):
        return start, start
    if text[pos] != "-":
        raise error
    second = _int_prefix(text[pos + 1 :], signed)
    if second is None or second[1] != len(text) - pos - 1:
        raise error
    end = second[0]
    if start > end:
        raise error
    if signed:
        bounded = start <= INT64_MAX - OPTS_RANGE_MAX
        if bounded and end >= start + OPTS_RANGE_MAX:
            raise error
    elif end - start >= OPTS_RANGE_MAX:
        raise error
    return start, end


def _range_check(value: int, name: str | None, kind: str) -> int:
    low, high, c_name = INT_KINDS[kind]
    if c_name and not low <= value <= high:
        raise _expects(name if name is not None else "null", c_name)
    return value
