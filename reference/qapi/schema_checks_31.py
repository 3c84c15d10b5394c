"""Checks of QAPI definitions, 3.1 dialect (QEMU 3.1's scripts/qapi/common.py rules).

3.1 checks in two passes: keys, flags and names of every definition first, then
each definition's types against the names known. Member values are plain type
names (no member 'if' or 'features' yet); unions may be simple (no base, no
discriminator); 'if' takes C preprocessor conditions.
"""

from __future__ import annotations

import re

from reference.qapi.schema_names import NameRules, is_reserved_member
from reference.qapi.schema_parser import ParsedExpr
from reference.qapi.schema_source import Pragmas, SchemaError, SourceInfo

Obj = dict[str, object]

BUILTIN_QTYPES: dict[str, str | None] = {
    "null": "QNULL",
    "str": "QSTRING",
    "int": "QNUM",
    "number": "QNUM",
    "bool": "QBOOL",
    "int8": "QNUM",
    "int16": "QNUM",
    "int32": "QNUM",
    "int64": "QNUM",
    "uint8": "QNUM",
    "uint16": "QNUM",
    "uint32": "QNUM",
    "uint64": "QNUM",
    "size": "QNUM",
    "any": None,
    "QType": "QSTRING",
}

_KEYS: dict[str, tuple[list[str], list[str]]] = {
    "enum": (["data"], ["if", "prefix"]),
    "union": (["data"], ["base", "discriminator", "if"]),
    "alternate": (["data"], ["if"]),
    "struct": (["data"], ["base", "if"]),
    "command": (
        [],
        ["data", "returns", "gen", "success-response", "boxed", "allow-oob", "allow-preconfig", "if"],
    ),
    "event": ([], ["data", "boxed", "if"]),
}
_ALL_TYPES = ["built-in", "union", "alternate", "struct", "enum"]


def _quoted(names: set[str]) -> str:
    return ", ".join(f"'{n}'" for n in sorted(names))


class Checker31:
    def __init__(self, pragmas: Pragmas) -> None:
        self.pragmas = pragmas
        self.names = NameRules("3.1")
        self.all_names: dict[str, str] = dict.fromkeys(BUILTIN_QTYPES, "built-in")
        self.defs: dict[str, Obj] = {}
        self.info = SourceInfo("", 0)

    def fail(self, message: str) -> SchemaError:
        return SchemaError(self.info, message, "3.1")

    # -- pass 1 ----------------------------------------------------------------

    def first_pass(self, parsed: ParsedExpr) -> tuple[str, str, SourceInfo]:
        expr, self.info = parsed.expr, parsed.info
        if parsed.doc is None and self.pragmas.doc_required:
            raise self.fail("Expression missing documentation comment")
        meta = next((m for m in _KEYS if m in expr), None)
        if meta is None:
            raise self.fail("Expression is missing metatype")
        name = expr[meta]
        if not isinstance(name, str):
            raise self.fail(f"'{meta}' key must have a string value")
        required, optional = _KEYS[meta]
        self.known_keys(f"{meta} '{name}'", expr, [*required, meta], optional)
        for key, value in expr.items():
            if key in ("gen", "success-response") and value is not False:
                raise self.fail(f"'{key}' of {meta} '{name}' should only use false value")
            if key in ("boxed", "allow-oob", "allow-preconfig") and value is not True:
                raise self.fail(f"'{key}' of {meta} '{name}' should only use true value")
            if key == "if" and value is not None:
                self.ifcond(value)
        if meta == "enum" and isinstance(expr["data"], list):
            expr["data"] = [m if isinstance(m, dict) else {"name": m} for m in expr["data"]]
        self.names.definition(name, self.info, meta, [])
        if name in self.all_names:
            raise self.fail(f"{self.all_names[name]} '{name}' is already defined")
        self.all_names[name] = meta
        self.defs[name] = expr
        if parsed.doc is not None and parsed.doc.symbol != name:
            raise self.fail(f"Definition of '{name}' follows documentation for '{parsed.doc.symbol}'")
        return meta, name, self.info

    def known_keys(self, source: str, value: Obj, required: list[str], optional: list[str]) -> None:
        missing = set(required) - set(value)
        if missing:
            many = len(missing) > 1
            raise self.fail(
                f"Key{'s' if many else ''} {_quoted(missing)} {'are' if many else 'is'} missing from {source}"
            )
        allowed = set(required) | set(optional)
        unknown = set(value) - allowed
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise self.fail(
                f"Unknown key{plural} {_quoted(unknown)} in {source}\nValid keys are {_quoted(allowed)}."
            )

    def ifcond(self, cond: object) -> None:
        conds = cond if isinstance(cond, list) else [cond]
        if isinstance(cond, list) and not cond:
            raise self.fail("'if' condition [] is useless")
        for one in conds:
            if not isinstance(one, str):
                raise self.fail("'if' condition must be a string or a list of strings")
            if one == "":
                raise self.fail("'if' condition '' makes no sense")

    # -- pass 2 ----------------------------------------------------------------

    def second_pass(self, meta: str, name: str, info: SourceInfo) -> None:
        self.info = info
        getattr(self, f"_{meta}")(self.defs[name], name)

    def type_ref(
        self,
        source: str,
        value: object,
        allow_array: bool = False,
        allow_dict: bool = False,
        allow_optional: bool = False,
        allow_metas: tuple[str, ...] | list[str] = (),
    ) -> None:
        if value is None:
            return
        if isinstance(value, list):
            if not allow_array:
                raise self.fail(f"{source} cannot be an array")
            if len(value) != 1 or not isinstance(value[0], str):
                raise self.fail(f"{source}: array type must contain single type name")
            value = value[0]
        if isinstance(value, str):
            if value not in self.all_names:
                raise self.fail(f"{source} uses unknown type '{value}'")
            if self.all_names[value] not in allow_metas:
                raise self.fail(f"{source} cannot use {self.all_names[value]} type '{value}'")
            return
        if not allow_dict:
            raise self.fail(f"{source} should be a type name")
        if not isinstance(value, dict):
            raise self.fail(f"{source} should be a dictionary or type name")
        for key, arg in value.items():
            self.names.old(key, self.info, f"Member of {source}", allow_optional=allow_optional)
            if is_reserved_member(key):
                raise self.fail(f"Member of {source} uses reserved name '{key}'")
            self.type_ref(f"Member '{key}' of {source}", arg, allow_array=True, allow_metas=_ALL_TYPES)

    def _enum(self, expr: Obj, name: str) -> None:
        data, prefix = expr["data"], expr.get("prefix")
        if not isinstance(data, list):
            raise self.fail(f"Enum '{name}' requires an array for 'data'")
        if prefix is not None and not isinstance(prefix, str):
            raise self.fail(f"Enum '{name}' requires a string for 'prefix'")
        for member in data:
            assert isinstance(member, dict)
            self.known_keys(f"dictionary member of enum '{name}'", member, ["name"], [])
            self.names.old(member["name"], self.info, f"Member of enum '{name}'", enum_member=True)

    def _struct(self, expr: Obj, name: str) -> None:
        self.type_ref(f"'data' for struct '{name}'", expr["data"], allow_dict=True, allow_optional=True)
        self.type_ref(f"'base' for struct '{name}'", expr.get("base"), allow_metas=["struct"])

    def _command(self, expr: Obj, name: str) -> None:
        boxed = bool(expr.get("boxed", False))
        args = ["struct", "union", "alternate"] if boxed else ["struct"]
        self.type_ref(
            f"'data' for command '{name}'",
            expr.get("data"),
            allow_dict=not boxed,
            allow_optional=True,
            allow_metas=args,
        )
        rets = ["union", "struct"]
        if name in self.pragmas.command_returns_exceptions:
            rets += ["built-in", "alternate", "enum"]
        self.type_ref(
            f"'returns' for command '{name}'",
            expr.get("returns"),
            allow_array=True,
            allow_optional=True,
            allow_metas=rets,
        )

    def _event(self, expr: Obj, name: str) -> None:
        boxed = bool(expr.get("boxed", False))
        metas = ["struct", "union", "alternate"] if boxed else ["struct"]
        self.type_ref(
            f"'data' for event '{name}'",
            expr.get("data"),
            allow_dict=not boxed,
            allow_optional=True,
            allow_metas=metas,
        )

    def _union(self, expr: Obj, name: str) -> None:
        base, disc, data = expr.get("base"), expr.get("discriminator"), expr["data"]
        enum_values: list[str] | None = None
        metas = _ALL_TYPES
        if disc is None:
            if base is not None:
                raise self.fail(f"Simple union '{name}' must not have a base")
        else:
            self.type_ref(
                f"'base' for union '{name}'",
                base,
                allow_dict=True,
                allow_optional=True,
                allow_metas=["struct"],
            )
            if not base:
                raise self.fail(f"Flat union '{name}' must have a base")
            members = self._base_members(base)
            self.names.old(disc, self.info, f"Discriminator of flat union '{name}'")
            assert isinstance(disc, str)
            # A '*' key is optional: QEMU looks the bare name up and misses it.
            tag_type = members.get(disc)
            if tag_type is None:
                raise self.fail(f"Discriminator '{disc}' is not a member of base struct '{base}'")
            enum = self.defs.get(tag_type) if isinstance(tag_type, str) else None
            if enum is None or "enum" not in enum:
                raise self.fail(f"Discriminator '{disc}' must be of enumeration type")
            enum_values = [str(m["name"]) for m in enum["data"]]  # type: ignore[attr-defined]
            metas = ["struct"]
        if not isinstance(data, dict) or not data:
            raise self.fail(f"Union '{name}' cannot have empty 'data'")
        for key, value in data.items():
            self.names.old(key, self.info, f"Member of union '{name}'")
            self.type_ref(f"Member '{key}' of union '{name}'", value, allow_array=not base, allow_metas=metas)
            if enum_values is not None and key not in enum_values:
                raise self.fail(f"Discriminator value '{key}' is not found in enum '{self._tag_enum(expr)}'")

    def _base_members(self, base: object) -> dict[str, object]:
        if isinstance(base, dict):
            return base
        found = self.defs.get(str(base), {}).get("data")
        return found if isinstance(found, dict) else {}

    def _tag_enum(self, expr: Obj) -> str:
        return str(self._base_members(expr["base"])[str(expr["discriminator"])])

    def _alternate(self, expr: Obj, name: str) -> None:
        data = expr["data"]
        if not isinstance(data, dict) or len(data) < 2:
            raise self.fail(f"Alternate '{name}' should have at least two branches in 'data'")
        seen: dict[str, str] = {}
        for key, typ in data.items():
            self.names.old(key, self.info, f"Member of alternate '{name}'")
            self.type_ref(
                f"Member '{key}' of alternate '{name}'",
                typ,
                allow_metas=["built-in", "union", "struct", "enum"],
            )
            assert isinstance(typ, str)
            qtype = self._qtype(typ)
            if qtype is None:
                raise self.fail(f"Alternate '{name}' member '{key}' cannot use type '{typ}'")
            for qt in self._conflicts(typ, qtype):
                if qt in seen:
                    raise self.fail(
                        f"Alternate '{name}' member '{key}' can't be distinguished from member '{seen[qt]}'"
                    )
                seen[qt] = key

    def _qtype(self, typ: str) -> str | None:
        meta = self.all_names[typ]
        if meta == "built-in":
            return BUILTIN_QTYPES[typ]
        return "QSTRING" if meta == "enum" else "QDICT"

    def _conflicts(self, typ: str, qtype: str) -> set[str]:
        found = {qtype}
        if qtype != "QSTRING":
            return found
        if self.all_names[typ] != "enum":
            return found | {"QNUM", "QBOOL"}
        for member in self.defs[typ]["data"]:  # type: ignore[attr-defined]
            value = str(member["name"])
            if value in ("on", "off"):
                found.add("QBOOL")
            if re.match(r"[-+0-9.]", value):
                found.add("QNUM")
        return found
