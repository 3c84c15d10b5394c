"""Context-free checks of QAPI definitions, 7.2 dialect (QEMU's expr.py rules).

Each definition is checked on its own and normalized in place: member values
become {'type': T}, features and enum values become {'name': N}. Type names are
resolved later (schema_build).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from reference.qapi.schema_names import NameRules, is_reserved_member
from reference.qapi.schema_parser import ParsedExpr
from reference.qapi.schema_source import Pragmas, SchemaError, SourceInfo

METAS = ("enum", "struct", "union", "alternate", "command", "event")
Obj = dict[str, object]

_KEYS: dict[str, tuple[list[str], list[str]]] = {
    "enum": (["enum", "data"], ["if", "features", "prefix"]),
    "struct": (["struct", "data"], ["base", "if", "features"]),
    "union": (["union", "base", "discriminator", "data"], ["if", "features"]),
    "alternate": (["alternate", "data"], ["if", "features"]),
    "command": (
        ["command"],
        [
            "data",
            "returns",
            "boxed",
            "if",
            "features",
            "gen",
            "success-response",
            "allow-oob",
            "allow-preconfig",
            "coroutine",
        ],
    ),
    "event": (["event"], ["data", "boxed", "if", "features"]),
}


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"'{n}'" for n in sorted(names))


class Checker72:
    def __init__(self, pragmas: Pragmas) -> None:
        self.pragmas = pragmas
        self.names = NameRules("7.2")
        self.info = SourceInfo("", 0)

    def fail(self, message: str) -> SchemaError:
        return SchemaError(self.info, message, "7.2")

    def check(self, parsed: ParsedExpr) -> tuple[str, str, SourceInfo]:
        """Check one definition; returns its meta, name and located info."""
        expr, self.info = parsed.expr, parsed.info
        metas = [m for m in METAS if m in expr]
        if len(metas) != 1:
            raise self.fail(
                "expression must have exactly one key"
                " 'enum', 'struct', 'union', 'alternate', 'command', 'event'"
            )
        meta = metas[0]
        name = self.names.require_str(expr[meta], self.info, f"'{meta}'")
        self.info = self.info.in_defn(meta, name)
        self.names.definition(name, self.info, meta, self.pragmas.command_name_exceptions)
        if parsed.doc is not None:
            if parsed.doc.symbol != name:
                raise self.fail(f"documentation comment is for '{parsed.doc.symbol}'")
        elif self.pragmas.doc_required:
            raise self.fail("documentation comment required")
        required, optional = _KEYS[meta]
        self.keys(expr, meta, required, optional)
        getattr(self, f"_{meta}")(expr, name)
        self.ifcond(expr, meta)
        self.features(expr.get("features"))
        self.flags(expr)
        return meta, name, self.info

    # -- helpers -----------------------------------------------------------

    def keys(self, value: Obj, source: str, required: list[str], optional: list[str]) -> None:
        missing = set(required) - set(value)
        if missing:
            plural = "s" if len(missing) > 1 else ""
            raise self.fail(f"{source} misses key{plural} {_quoted(missing)}")
        allowed = set(required) | set(optional)
        unknown = set(value) - allowed
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise self.fail(
                f"{source} has unknown key{plural} {_quoted(unknown)}\nValid keys are {_quoted(allowed)}."
            )

    def flags(self, expr: Obj) -> None:
        for key in ("gen", "success-response"):
            if key in expr and expr[key] is not False:
                raise self.fail(f"flag '{key}' may only use false value")
        for key in ("boxed", "allow-oob", "allow-preconfig", "coroutine"):
            if key in expr and expr[key] is not True:
                raise self.fail(f"flag '{key}' may only use true value")
        if "allow-oob" in expr and "coroutine" in expr:
            raise self.fail("flags 'allow-oob' and 'coroutine' are incompatible")

    def ifcond(self, owner: Obj, source: str) -> None:
        if "if" in owner and owner["if"] is not None:
            self._cond(owner["if"], source)

    def _cond(self, cond: object, source: str) -> None:
        if isinstance(cond, str):
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", cond):
                raise self.fail(f"'if' condition '{cond}' of {source} is not a valid identifier")
            return
        if not isinstance(cond, dict):
            raise self.fail(f"'if' condition of {source} must be a string or an object")
        self.keys(cond, f"'if' condition of {source}", [], ["all", "any", "not"])
        if len(cond) != 1:
            raise self.fail(f"'if' condition of {source} has conflicting keys")
        if "not" in cond:
            self._cond(cond["not"], source)
            return
        oper = "all" if "all" in cond else "any"
        operands = cond[oper]
        if not isinstance(operands, list):
            raise self.fail(f"'{oper}' condition of {source} must be an array")
        if not operands:
            raise self.fail(f"'if' condition [] of {source} is useless")
        for operand in operands:
            self._cond(operand, source)

    def features(self, features: object) -> None:
        if features is None:
            return
        if not isinstance(features, list):
            raise self.fail("'features' must be an array")
        features[:] = [f if isinstance(f, dict) else {"name": f} for f in features]
        for feat in features:
            self.keys(feat, "'features' member", ["name"], ["if"])
            name = self.names.require_str(feat["name"], self.info, "'features' member")
            source = f"'features' member '{name}'"
            self.names.stem(name, self.info, source)
            self.ifcond(feat, source)

    def normalize(self, members: object) -> None:
        if isinstance(members, dict):
            for key, value in members.items():
                if not isinstance(value, dict):
                    members[key] = {"type": value}

    def type_ref(
        self, value: object, source: str, allow_array: bool = False, allow_dict: str | bool = False
    ) -> None:
        if value is None or isinstance(value, str):
            return
        if isinstance(value, list):
            if not allow_array:
                raise self.fail(f"{source} cannot be an array")
            if len(value) != 1 or not isinstance(value[0], str):
                raise self.fail(f"{source}: array type must contain single type name")
            return
        if not allow_dict:
            raise self.fail(f"{source} should be a type name")
        if not isinstance(value, dict):
            raise self.fail(f"{source} should be an object or type name")
        permissive = isinstance(allow_dict, str) and allow_dict in self.pragmas.member_name_exceptions
        for key, arg in value.items():
            key_source = f"{source} member '{key}'"
            self.names.lower(key.removeprefix("*"), self.info, key_source, permissive)
            if is_reserved_member(key.removeprefix("*")):
                raise self.fail(f"{key_source} uses reserved name")
            assert isinstance(arg, dict)  # normalized by the caller
            self.keys(arg, key_source, ["type"], ["if", "features"])
            self.ifcond(arg, key_source)
            self.features(arg.get("features"))
            self.type_ref(arg["type"], key_source, allow_array=True)

    # -- per meta ------------------------------------------------------------

    def _enum(self, expr: Obj, name: str) -> None:
        data, prefix = expr["data"], expr.get("prefix")
        if not isinstance(data, list):
            raise self.fail("'data' must be an array")
        if prefix is not None and not isinstance(prefix, str):
            raise self.fail("'prefix' must be a string")
        permissive = name in self.pragmas.member_name_exceptions
        data[:] = [m if isinstance(m, dict) else {"name": m} for m in data]
        for member in data:
            self.keys(member, "'data' member", ["name"], ["if", "features"])
            value = self.names.require_str(member["name"], self.info, "'data' member")
            source = f"'data' member '{value}'"
            # Enum values may start with a digit: C prefixes them anyway.
            probe = "d" + value if value[:1].isdigit() else value
            self.names.lower(probe, self.info, source, permissive)
            self.ifcond(member, source)
            self.features(member.get("features"))

    def _struct(self, expr: Obj, name: str) -> None:
        self.normalize(expr["data"])
        self.type_ref(expr["data"], "'data'", allow_dict=name)
        self.type_ref(expr.get("base"), "'base'")

    def _union(self, expr: Obj, name: str) -> None:
        self.normalize(expr["base"])
        self.normalize(expr["data"])
        self.type_ref(expr["base"], "'base'", allow_dict=name)
        self.names.require_str(expr["discriminator"], self.info, "'discriminator'")
        data = expr["data"]
        if not isinstance(data, dict):
            raise self.fail("'data' must be an object")
        for key, value in data.items():
            source = f"'data' member '{key}'"
            self.keys(value, source, ["type"], ["if"])
            self.ifcond(value, source)
            self.type_ref(value["type"], source, allow_array=not expr["base"])

    def _alternate(self, expr: Obj, name: str) -> None:
        self.normalize(expr["data"])
        data = expr["data"]
        if not data:
            raise self.fail("'data' must not be empty")
        if not isinstance(data, dict):
            raise self.fail("'data' must be an object")
        for key, value in data.items():
            source = f"'data' member '{key}'"
            self.names.lower(key, self.info, source)
            self.keys(value, source, ["type"], ["if"])
            self.ifcond(value, source)
            self.type_ref(value["type"], source)

    def _command(self, expr: Obj, name: str) -> None:
        self.normalize(expr.get("data"))
        self._arguments(expr)
        self.type_ref(expr.get("returns"), "'returns'", allow_array=True)

    def _event(self, expr: Obj, name: str) -> None:
        self.normalize(expr.get("data"))
        self._arguments(expr)

    def _arguments(self, expr: Obj) -> None:
        boxed = expr.get("boxed", False)
        if boxed and expr.get("data") is None:
            raise self.fail("'boxed': true requires 'data'")
        self.type_ref(expr.get("data"), "'data'", allow_dict=not boxed)
