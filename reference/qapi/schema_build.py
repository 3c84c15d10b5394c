"""From checked expressions to a schema model, then the semantic checks.

Entities are defined in QEMU's order (implicit arrays and argument objects just
before the definition that needs them), which decides which error wins.
"""

from __future__ import annotations

from reference.qapi.schema_checks import Checker72
from reference.qapi.schema_checks_31 import Checker31
from reference.qapi.schema_model import (
    JSON_TYPES,
    AlternateType,
    ArrayType,
    BuiltinType,
    Command,
    Entity,
    EnumType,
    Event,
    Feature,
    Include,
    Member,
    ObjectType,
    Schema,
)
from reference.qapi.schema_parser import ParseResult, SourceReader, parse_schema
from reference.qapi.schema_semantics import check_schema
from reference.qapi.schema_source import Dialect, SchemaError, SourceInfo

Obj = dict[str, object]
QTYPE_VALUES = ["none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool"]


def compile_schema(fname: str, read: SourceReader, dialect: Dialect) -> Schema:
    """Parse, check and model a schema; raises SchemaError as QEMU would reject it."""
    parsed = parse_schema(fname, read, dialect)
    defs = _check_exprs(parsed, dialect)
    builder = _Builder(dialect)
    for path, info in parsed.includes:
        builder.schema.entities.append(Include(path, info))
    for meta, name, info, expr in defs:
        getattr(builder, f"_def_{meta}")(name, info, expr)
    check_schema(builder.schema, parsed.pragmas)
    return builder.schema


def _check_exprs(parsed: ParseResult, dialect: Dialect) -> list[tuple[str, str, SourceInfo, Obj]]:
    out: list[tuple[str, str, SourceInfo, Obj]] = []
    if dialect == "7.2":
        checker = Checker72(parsed.pragmas)
        for item in parsed.exprs:
            meta, name, info = checker.check(item)
            out.append((meta, name, info, item.expr))
        return out
    old = Checker31(parsed.pragmas)
    for item in parsed.exprs:
        meta, name, info = old.first_pass(item)
        out.append((meta, name, info, item.expr))
    for meta, name, info, _ in out:
        old.second_pass(meta, name, info)
    return out


class _Builder:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.schema = Schema(dialect)
        for name, json_type in JSON_TYPES.items():
            self._define(BuiltinType(name, None, meta="built-in", json_type=json_type))
            self._array(name, None)
        self._define(ObjectType("q_empty", None, meta="object"))
        values = [Member(v, role="value", defined_in="QType") for v in QTYPE_VALUES]
        self._define(EnumType("QType", None, meta="enum", values=values, prefix="QTYPE"))

    def _define(self, entity: Entity) -> None:
        self.schema.entities.append(entity)
        previous = self.schema.by_name.get(entity.name)
        if previous is not None and self.dialect == "7.2":
            assert entity.info is not None
            if previous.info is not None:
                where = SchemaError(previous.info, "previous definition", "7.2")
                raise SchemaError(entity.info, f"'{entity.name}' is already defined\n{where}", "7.2")
            what = f"{previous.meta} type '{previous.name}'"
            raise SchemaError(entity.info, f"{what} is already defined", "7.2")
        self.schema.by_name.setdefault(entity.name, entity)

    def _array(self, element: str, info: SourceInfo | None) -> str:
        name = element + "List"
        if name not in self.schema.by_name:
            self._define(ArrayType(name, info, meta="array", element=element))
        return name

    def _type(self, ref: object, info: SourceInfo) -> str:
        if isinstance(ref, list):
            return self._array(str(ref[0]), info)
        return str(ref)

    @staticmethod
    def _features(raw: object, owner: str) -> list[Feature]:
        if not isinstance(raw, list):
            return []
        return [Feature(str(f["name"]), f.get("if"), defined_in=owner) for f in raw]

    def _members(self, data: object, info: SourceInfo, owner: str) -> list[Member]:
        if not isinstance(data, dict):
            return []
        out: list[Member] = []
        for key, value in data.items():
            spec = value if isinstance(value, dict) else {"type": value}
            out.append(
                Member(
                    key.removeprefix("*"),
                    self._type(spec["type"], info),
                    optional=key.startswith("*"),
                    ifcond=spec.get("if"),
                    features=self._features(spec.get("features"), key.removeprefix("*")),
                    defined_in=owner,
                )
            )
        return out

    def _implicit(self, name: str, info: SourceInfo, ifcond: object, role: str, data: object) -> str | None:
        owner = f"q_obj_{name}-{role}"
        members = self._members(data, info, owner)
        if not members:
            return None
        if owner not in self.schema.by_name:
            self._define(ObjectType(owner, info, ifcond, meta="object", local_members=members))
        return owner

    def _def_enum(self, name: str, info: SourceInfo, expr: Obj) -> None:
        raw = expr["data"]
        assert isinstance(raw, list)
        values = [
            Member(
                str(v["name"]),
                ifcond=v.get("if"),
                features=self._features(v.get("features"), str(v["name"])),
                role="value",
                defined_in=name,
            )
            for v in raw
        ]
        prefix = expr.get("prefix")
        self._define(
            EnumType(
                name,
                info,
                expr.get("if"),
                self._features(expr.get("features"), name),
                "enum",
                values=values,
                prefix=prefix if isinstance(prefix, str) else None,
            )
        )

    def _def_struct(self, name: str, info: SourceInfo, expr: Obj) -> None:
        members = self._members(expr["data"], info, name)
        base = expr.get("base")
        self._define(
            ObjectType(
                name,
                info,
                expr.get("if"),
                self._features(expr.get("features"), name),
                "struct",
                base=str(base) if base is not None else None,
                local_members=members,
            )
        )

    def _def_union(self, name: str, info: SourceInfo, expr: Obj) -> None:
        ifcond, base, data = expr.get("if"), expr.get("base"), expr["data"]
        assert isinstance(data, dict)
        tag = expr.get("discriminator")
        local: list[Member] = []
        if isinstance(base, dict):
            base = self._implicit(name, info, ifcond, "base", base)
        if tag is not None:
            branches = [self._branch(k, v, info, name) for k, v in data.items()]
        else:
            # 3.1 simple union: each branch wraps its type as member 'data'.
            branches = []
            for key, value in data.items():
                typ = self._type(value, info)
                wrapper = self._implicit(typ, info, None, "wrapper", {"data": typ})
                branches.append(Member(key, str(wrapper), role="branch", defined_in=name))
            kind = name + "Kind"
            values = [Member(b.name, role="value", defined_in=kind) for b in branches]
            self._define(EnumType(kind, info, ifcond, meta="enum", values=values))
            tag = "type"
            local = [Member("type", kind, defined_in=name)]
        self._define(
            ObjectType(
                name,
                info,
                ifcond,
                self._features(expr.get("features"), name),
                "union",
                base=str(base) if base else None,
                local_members=local,
                tag=str(tag),
                branches=branches,
            )
        )

    def _branch(self, key: str, value: object, info: SourceInfo, owner: str) -> Member:
        spec = value if isinstance(value, dict) else {"type": value}
        return Member(
            key, self._type(spec["type"], info), ifcond=spec.get("if"), role="branch", defined_in=owner
        )

    def _def_alternate(self, name: str, info: SourceInfo, expr: Obj) -> None:
        data = expr["data"]
        assert isinstance(data, dict)
        branches = [self._branch(k, v, info, name) for k, v in data.items()]
        self._define(
            AlternateType(
                name,
                info,
                expr.get("if"),
                self._features(expr.get("features"), name),
                "alternate",
                branches=branches,
            )
        )

    def _arg_type(self, name: str, info: SourceInfo, expr: Obj) -> str | None:
        data = expr.get("data")
        if isinstance(data, dict):
            return self._implicit(name, info, expr.get("if"), "arg", data)
        return None if data is None else str(data)

    def _def_command(self, name: str, info: SourceInfo, expr: Obj) -> None:
        arg = self._arg_type(name, info, expr)
        rets = expr.get("returns")
        ret = None if rets is None else self._type(rets, info)
        self._define(
            Command(
                name,
                info,
                expr.get("if"),
                self._features(expr.get("features"), name),
                "command",
                arg_type=arg,
                ret_type=ret,
                boxed=bool(expr.get("boxed", False)),
                gen=bool(expr.get("gen", True)),
                success_response=bool(expr.get("success-response", True)),
                allow_oob=bool(expr.get("allow-oob", False)),
                allow_preconfig=bool(expr.get("allow-preconfig", False)),
                coroutine=bool(expr.get("coroutine", False)),
            )
        )

    def _def_event(self, name: str, info: SourceInfo, expr: Obj) -> None:
        arg = self._arg_type(name, info, expr)
        self._define(
            Event(
                name,
                info,
                expr.get("if"),
                self._features(expr.get("features"), name),
                "event",
                arg_type=arg,
                boxed=bool(expr.get("boxed", False)),
            )
        )
