"""QEMU's QObject output visitor over introspection types: a typed value as QObject.

Members go into the QDict in their declared order (base, then the branch its
tag selects), so the JSON QEMU writes follows QDict's hash order just as a
real reply does; an unset optional member is left out, an enum becomes its
name, an alternate its branch's value, a number a double.
"""

from __future__ import annotations

from typing import Any

from reference.qapi.introspection import Schema
from reference.qapi.qapi_values import Alternate, AnyValue, Struct, alternate_branch, struct_members
from reference.qobject.values import QDict, QNull, QObject, qnull


class OutputError(ValueError):
    """A value that does not fit its type (QEMU would assert or crash)."""


def output_visit(schema: Schema, type_name: str, value: Any) -> QObject:
    info = schema.type(type_name)
    if info.meta == "object":
        if not isinstance(value, Struct):
            raise OutputError(f"{type_name}: a struct is needed, not {value!r}")
        out = QDict()
        for member in struct_members(schema, info, value):
            if member.name in value.members:
                out.put(member.name, output_visit(schema, member.type, value.members[member.name]))
            elif not member.optional:
                raise OutputError(f"{type_name}: required member '{member.name}' is unset")
        return out
    if info.meta == "array":
        if not isinstance(value, list):
            raise OutputError(f"{type_name}: a list is needed, not {value!r}")
        return [output_visit(schema, info.element, item) for item in value]
    if info.meta == "enum":
        if value not in info.values:
            raise OutputError(f"{type_name}: {value!r} is not one of its values")
        return str(value)
    if info.meta == "alternate":
        if not isinstance(value, Alternate) or not value.qtype:
            raise OutputError(f"{type_name}: an alternate with a chosen branch is needed, not {value!r}")
        branch = alternate_branch(schema, info, value)
        if branch is None:
            raise OutputError(f"{type_name}: no branch takes {value.qtype}")
        return output_visit(schema, branch, value.value)
    return _builtin(info.json_type, value)


def _builtin(kind: str, value: Any) -> QObject:
    if kind == "value":
        if not isinstance(value, AnyValue):
            raise OutputError(f"an 'any' member needs its QObject, not {value!r}")
        return value.qobject  # type: ignore[no-any-return]
    if kind == "null":
        return qnull
    if kind == "string":
        if value is None:
            return ""  # the output visitor writes a NULL string as ""
        if isinstance(value, str):
            return value
    elif (kind == "boolean" and isinstance(value, bool)) or (
        kind == "int" and isinstance(value, int) and not isinstance(value, bool)
    ):
        return value
    elif kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise OutputError(f"{value!r} is not a {kind}")


__all__ = ["OutputError", "QNull", "output_visit"]
