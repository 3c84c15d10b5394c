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


@dataclass(eq=True)
class Struct:
    type: str
    members: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=True)
class Alternate:
    type: str
    qtype: str  # "QTYPE_QDICT", "QTYPE_QSTRING", ...; "" if no branch was chosen (QTYPE_NONE)
    value: Any = None


QTYPES = {
    "object": "QTYPE_QDICT",
    "array": "QTYPE_QLIST",
    "string": "QTYPE_QSTRING",
    "number": "QTYPE_QNUM",
    "boolean": "QTYPE_QBOOL",
    "null": "QTYPE_QNULL",
}


def containers(value: Any) -> list[Any]:
    """Every Struct, Alternate and list reachable in a built value (what C allocated)."""
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
    return found
