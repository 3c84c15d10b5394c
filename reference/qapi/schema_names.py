"""QAPI naming rules, per dialect.

7.2: letters, digits, '-', '_', starting with a letter, after an optional
downstream prefix '__RFQDN_' and an optional 'x-'; types CamelCase, commands and
members lowercase without '_', events uppercase without '-'. 3.1 only checks
the character set. Both reserve the C namespace 'q_'.
"""

from __future__ import annotations

import re

from reference.qapi.schema_source import Dialect, SchemaError, SourceInfo

_VALID_72 = re.compile(r"(__[a-z0-9.-]+_)?(x-)?([a-z][a-z0-9_-]*)$", re.IGNORECASE)
_VALID_31 = re.compile(r"(__[a-zA-Z0-9.-]+_)?[a-zA-Z][a-zA-Z0-9_-]*$")
_CAMEL = re.compile(r"[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$")


def c_name(name: str) -> str:
    """The C identifier QEMU derives from a name (unprotected form)."""
    return name.replace(".", "_").replace("-", "_")


def is_reserved_member(name: str) -> bool:
    # 'u' holds a union's variants in C, 'has_X' flags an optional member.
    cname = c_name(name)
    return cname == "u" or cname.startswith("has_")


class NameRules:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect

    def _fail(self, info: SourceInfo, message: str) -> SchemaError:
        return SchemaError(info, message, self.dialect)

    def require_str(self, name: object, info: SourceInfo, source: str) -> str:
        if not isinstance(name, str):
            raise self._fail(info, f"{source} requires a string name")
        return name

    # -- 7.2 -------------------------------------------------------------

    def stem(self, name: str, info: SourceInfo, source: str) -> str:
        match = _VALID_72.match(name)
        if match is None or c_name(name).startswith("q_"):
            raise self._fail(info, f"{source} has an invalid name")
        return match.group(3)

    def upper(self, name: str, info: SourceInfo, source: str) -> None:
        if re.search(r"[a-z-]", self.stem(name, info, source)):
            raise self._fail(info, f"name of {source} must not use lowercase or '-'")

    def lower(self, name: str, info: SourceInfo, source: str, permissive: bool = False) -> None:
        stem = self.stem(name, info, source)
        if not permissive and (re.search(r"[A-Z]", stem) or "_" in stem):
            raise self._fail(info, f"name of {source} must not use uppercase or '_'")

    def camel(self, name: str, info: SourceInfo, source: str) -> None:
        if not _CAMEL.match(self.stem(name, info, source)):
            raise self._fail(info, f"name of {source} must use CamelCase")

    def definition(self, name: str, info: SourceInfo, meta: str, command_exceptions: list[str]) -> None:
        if self.dialect == "3.1":
            self.old(name, info, f"'{meta}'")
            if name.endswith(("Kind", "List")):
                raise self._fail(info, f"{meta} '{name}' should not end in '{name[-4:]}'")
            return
        if meta == "event":
            self.upper(name, info, meta)
        elif meta == "command":
            stem = self.stem(name, info, meta)
            bad_case = re.search(r"[A-Z]", stem) or ("_" in stem and name not in command_exceptions)
            if bad_case:
                raise self._fail(info, f"name of {meta} must not use uppercase or '_'")
        else:
            self.camel(name, info, meta)
            if name.endswith("List"):
                raise self._fail(info, f"{meta} name should not end in 'List'")

    # -- 3.1 -------------------------------------------------------------

    def old(
        self,
        name: object,
        info: SourceInfo,
        source: str,
        allow_optional: bool = False,
        enum_member: bool = False,
    ) -> str:
        """3.1's check_name: returns the name without its '*'."""
        if not isinstance(name, str):
            raise self._fail(info, f"{source} requires a string name")
        bare = name
        if name.startswith("*"):
            bare = name[1:]
            if not allow_optional:
                raise self._fail(info, f"{source} does not allow optional name '{name}'")
        probe = "D" + bare if enum_member and bare[:1].isdigit() else bare
        if not _VALID_31.match(probe) or c_name(probe).startswith("q_"):
            raise self._fail(info, f"{source} uses invalid name '{name}'")
        return bare
