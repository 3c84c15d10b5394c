"""QAPI_CLONE and QAPI_CLONE_MEMBERS: a deep copy walked over the schema.

The clone visitor copies each struct, list link and alternate (g_memdup) and
then every string; numbers, bools and enums come along with the memory. Its
special cases: a NULL string becomes "" (the input visitor never makes NULL
where "" was meant), a null becomes a fresh reference to the qnull
singleton, a bare scalar cannot be cloned (it asserts the visit is inside a
struct, list or alternate) and it has no 'any' callback at all, so cloning a
value that holds an 'any' would call through a NULL pointer.
"""

from __future__ import annotations

from typing import Any

from reference.qapi.introspection import Schema
from reference.qapi.qapi_values import Alternate, Struct, alternate_branch, struct_members
from reference.qobject.values import qnull


class CloneAbort(Exception):
    """QEMU would abort or crash cloning this value."""


def qapi_clone(schema: Schema, type_name: str, value: Any) -> Any:
    """QAPI_CLONE(type, value); None (a NULL source) clones to None."""
    if value is None:
        return None
    if schema.type(type_name).meta not in ("object", "array", "alternate"):
        raise CloneAbort(f"{type_name}: the clone visitor asserts it is inside a struct, list or alternate")
    return _clone(schema, type_name, value)


def qapi_clone_members(schema: Schema, type_name: str, target: Struct, source: Struct) -> None:
    """QAPI_CLONE_MEMBERS: copy source's members into an existing struct."""
    target.members = _clone(schema, type_name, source).members


def _clone(schema: Schema, type_name: str, value: Any) -> Any:
    info = schema.type(type_name)
    if value is None and info.meta in ("object", "array", "alternate"):
        return None  # a NULL pointer copies as NULL
    if info.meta == "object":
        copy = Struct(value.type)
        for member in struct_members(schema, info, value):
            if member.name in value.members:
                copy.members[member.name] = _clone(schema, member.type, value.members[member.name])
        return copy
    if info.meta == "array":
        return [_clone(schema, info.element, item) for item in value]
    if info.meta == "alternate":
        branch = alternate_branch(schema, info, value)
        copied = None if branch is None else _clone(schema, branch, value.value)
        return Alternate(value.type, value.qtype, copied)
    if info.meta == "enum":
        return value
    if info.json_type == "value":
        raise CloneAbort(f"{type_name}: the clone visitor has no callback for 'any'")
    if info.json_type == "string":
        return "" if value is None else str(value)
    if info.json_type == "null":
        return qnull
    return value  # ints, numbers, bools: copied with the memory
