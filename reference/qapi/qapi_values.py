"""QAPI values as QEMU's C structs hold them, for the visitors that build, copy and free them.

A struct (or flat union: the branch's members sit in the same struct) is a
Struct with the members that were set; an unset optional member is absent. A
list is a Python list, an enum its name, an 'any' a QObject. An alternate
remembers the QType that chose its branch. None is a slot that was never
filled: a NULL pointer, or a scalar still zero, as a failed input visit
leaves them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reference.qapi.introspection import Member, Schema, TypeInfo, object_members
from reference.qobject.values import QDict


@dataclass(eq=True)
class Struct:
    type: str
    members: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=True)
class Alternate:
    type: str
    qtype: str  # "QTYPE_QDICT", "QTYPE_QSTRING", ...; "" if no branch was chosen (QTYPE_NONE)
    value: Any = None


@dataclass(eq=True)
class AnyValue:
    """An 'any' member: a pointer to a refcounted QObject, freed by one qobject_unref."""

    qobject: Any


QTYPES = {
    "object": "QTYPE_QDICT",
    "array": "QTYPE_QLIST",
    "string": "QTYPE_QSTRING",
    "number": "QTYPE_QNUM",
    "boolean": "QTYPE_QBOOL",
    "null": "QTYPE_QNULL",
}


def containers(value: Any) -> list[Any]:
    """Every Struct, Alternate, list and 'any' QObject reachable in a built value
    (what C allocated; a QObject's insides belong to it)."""
    found: list[Any] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, Struct):
            found.append(node)
            stack.extend(node.members.values())
        elif isinstance(node, Alternate):
            found.append(node)
            stack.append(node.value)
        elif isinstance(node, list):
            found.append(node)
            stack.extend(node)
        elif isinstance(node, AnyValue):
            found.append(node)
    return found


def branch_qtype(schema: Schema, type_name: str) -> str:
    """The QType that picks this alternate branch."""
    info = schema.type(type_name)
    if info.meta == "object":
        return "QTYPE_QDICT"
    if info.meta == "array":
        return "QTYPE_QLIST"
    if info.meta == "enum":
        return "QTYPE_QSTRING"
    kinds = {"int": "number", "string": "string", "number": "number", "boolean": "boolean", "null": "null"}
    return QTYPES.get(kinds.get(info.json_type, ""), "")


def alternate_branch(schema: Schema, info: TypeInfo, value: Alternate) -> str | None:
    """The branch type the alternate's QType chose; None for QTYPE_NONE or no match."""
    return next(
        (v.type for v in info.variants if value.qtype and branch_qtype(schema, v.type) == value.qtype), None
    )


def struct_members(schema: Schema, info: TypeInfo, value: Struct) -> list[Member]:
    """The members a visitor walks in a built struct: base, then the set tag's branch."""
    tag = QDict({info.tag: value.members[info.tag]}) if info.tag and info.tag in value.members else QDict()
    return object_members(schema, info, tag)
