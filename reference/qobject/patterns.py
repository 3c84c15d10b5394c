"""Values the oracle cannot know exactly, only their kind (or a few possible values).

They stand inside a predicted QObject (a build's micro version, an event's
timestamp) and match any observed value of that kind; an int wildcard with
`values` matches only those (a race between a few outcomes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wildcard:
    kind: str  # "int", "string", "object" (a dict whose members the oracle does not model) or "node-name"
    values: tuple[int, ...] = ()  # an int wildcard's possible values (empty: any); a node name's counter

    def __repr__(self) -> str:
        if self.kind == "node-name":
            return f"<#block{self.values[0]} and two random digits>"
        if self.values:
            return f"<one of {', '.join(map(str, self.values))}>"
        return f"<any {self.kind}>"


ANY_INT = Wildcard("int")
ANY_STRING = Wildcard("string")
ANY_OBJECT = Wildcard("object")


def one_of(*values: int) -> int | Wildcard:
    """One of a few integers; a single possibility is the integer itself."""
    possible = tuple(sorted(set(values)))
    return possible[0] if len(possible) == 1 else Wildcard("int", possible)


def auto_node_name(counter: int) -> Wildcard:
    """A name QEMU made up for a node: "#block", its counter, then two random digits."""
    return Wildcard("node-name", (counter,))
