"""QEMU's dealloc visitor (qapi_free_TYPE): frees a value, however little of it was built.

A failed input visit leaves structs with only some members set, lists cut
short with a NULL last slot, and alternates or unions whose branch was never
filled; the dealloc visitor frees what is there and skips NULLs. It returns
what it freed, so a caller can check that everything allocated was freed
exactly once. Its one fatal case: an alternate whose QType is QTYPE_NONE
(generated code aborts; the input visitor frees such an alternate itself
before dealloc could see it).
"""

from __future__ import annotations

from typing import Any

from reference.qapi.introspection import Schema
from reference.qapi.qapi_values import Alternate, Struct, alternate_branch, struct_members


class DeallocAbort(Exception):
    """QEMU would abort freeing this value."""


def qapi_free(schema: Schema, type_name: str, value: Any) -> list[Any]:
    """Free value; the Structs, Alternates, lists and 'any' QObjects freed, in order."""
    freed: list[Any] = []
    _free(schema, type_name, value, freed)
    return freed


def _free(schema: Schema, type_name: str, value: Any, freed: list[Any]) -> None:
    if value is None:
        return  # a NULL pointer, or a scalar never set
    info = schema.type(type_name)
    if info.meta == "object":
        # The tag is a base member; an unset tag is zero, which picks the first
        # enum value's branch, whose members are all zero then.
        for member in struct_members(schema, info, value):
            if member.name in value.members:
                _free(schema, member.type, value.members[member.name], freed)
        freed.append(value)
    elif info.meta == "array":
        for item in value:
            _free(schema, info.element, item, freed)
        freed.append(value)
    elif info.meta == "alternate":
        if not value.qtype:
            raise DeallocAbort(f"{type_name}: alternate with QTYPE_NONE")
        branch = alternate_branch(schema, info, value)
        if branch is not None:
            _free(schema, branch, value.value, freed)
        freed.append(value)
    elif info.meta == "builtin" and info.json_type == "value":
        freed.append(value)  # qobject_unref()


__all__ = ["Alternate", "DeallocAbort", "Struct", "qapi_free"]
