"""Where a QAPI schema error happened, and how QEMU's frontend prints it.

Two dialects: "3.1" (QEMU 3.1's scripts/qapi/common.py) and "7.2" (QEMU 7.2's
scripts/qapi/{parser,expr,schema}.py). They differ in wording and in what they
print around a location (7.2 names the definition an error is in).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Dialect = Literal["3.1", "7.2"]
DIALECTS: tuple[Dialect, ...] = ("3.1", "7.2")


@dataclass
class Pragmas:
    """Pragma state; QEMU keeps it per parse, shared by included files."""

    doc_required: bool = False
    # 7.2 names; 3.1's returns-whitelist / name-case-whitelist land here too.
    command_name_exceptions: list[str] = field(default_factory=list)
    command_returns_exceptions: list[str] = field(default_factory=list)
    member_name_exceptions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SourceInfo:
    fname: str
    line: int
    parent: SourceInfo | None = None
    defn_meta: str = ""
    defn_name: str = ""

    def in_defn(self, meta: str, name: str) -> SourceInfo:
        return replace(self, defn_meta=meta, defn_name=name)

    def loc(self) -> str:
        return f"{self.fname}:{self.line}"

    def render(self, dialect: Dialect) -> str:
        text = ""
        parent = self.parent
        while parent is not None:
            text = f"In file included from {parent.loc()}:\n" + text
            parent = parent.parent
        # Only 7.2 says which definition the error is in.
        if dialect == "7.2" and self.defn_name:
            text += f"{self.fname}: In {self.defn_meta} '{self.defn_name}':\n"
        return text + self.loc()


class SchemaError(Exception):
    """A rejected schema; str() is what QEMU's generator prints on stderr."""

    def __init__(self, info: SourceInfo, message: str, dialect: Dialect, col: int | None = None) -> None:
        self.info = info
        self.message = message
        self.dialect = dialect
        self.col = col
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.info.render(self.dialect)
        if self.col is not None:
            where += f":{self.col}"
        return f"{where}: {self.message}"
