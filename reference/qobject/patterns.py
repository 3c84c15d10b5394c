"""Values the oracle cannot know exactly, only their kind.

They stand inside a predicted QObject (a build's micro version, an event's
timestamp) and match any observed value of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wildcard:
    kind: str  # "int", "string" or "object" (a dict whose members the oracle does not model)

    def __repr__(self) -> str:
        return f"<any {self.kind}>"


ANY_INT = Wildcard("int")
ANY_STRING = Wildcard("string")
ANY_OBJECT = Wildcard("object")
