"""Checks that need the whole schema: types exist and fit, members don't clash,
unions and alternates are well formed. Entities are checked in definition order.

3.1 already resolved type names while checking expressions, so here it only
checks clashes, case, recursion and 'boxed'.
"""

from __future__ import annotations

import re

from reference.qapi.schema_model import (
    AlternateType,
    ArrayType,
    Command,
    Entity,
    EnumType,
    Event,
    Feature,
    Member,
    ObjectType,
    Schema,
    type_meta,
)
from reference.qapi.schema_names import c_name
from reference.qapi.schema_source import Pragmas, SchemaError, SourceInfo

Named = Member | Feature


def check_schema(schema: Schema, pragmas: Pragmas) -> None:
    checker = _Semantics(schema, pragmas)
    for entity in list(schema.entities):
        if isinstance(entity, Entity):
            checker.entity(entity)


def describe_type(entity: Entity) -> str:
    if isinstance(entity, ArrayType):
        return f"array type ['{entity.element}']"
    return f"{type_meta(entity)} type '{entity.name}'"


class _Semantics:
    def __init__(self, schema: Schema, pragmas: Pragmas) -> None:
        self.schema = schema
        self.pragmas = pragmas
        self.new = schema.dialect == "7.2"

    def fail(self, info: SourceInfo | None, message: str) -> SchemaError:
        assert info is not None
        return SchemaError(info, message, self.schema.dialect)

    # -- naming members in messages ------------------------------------------

    def describe(self, item: Named, info: SourceInfo | None) -> str:
        role, meta, owner = item.role, "type", item.defined_in
        if owner.startswith("q_obj_"):
            owner = owner[len("q_obj_") :]
            if owner.endswith("-arg"):
                role, meta, owner = "parameter", "command", owner[: -len("-arg")]
            elif owner.endswith("-base"):
                role, owner = f"base {role}", owner[: -len("-base")]
        if not self.new:
            if item.defined_in.endswith("Kind") and role == "value":
                return f"'{item.name}' (branch of {owner[:-4]})"
            old_role = "member" if role == "value" else role
            if role.startswith("base"):
                return f"'{item.name}' (base of {owner})"
            return f"'{item.name}' ({old_role} of {owner})"
        if info is not None and owner != info.defn_name:
            return f"{role} '{item.name}' of {meta} '{owner}'"
        return f"{role} '{item.name}'"

    def clash(self, item: Named, info: SourceInfo | None, seen: dict[str, Named]) -> None:
        cname = c_name(item.name)
        if (
            not self.new
            and cname.lower() != cname
            and item.defined_in not in self.pragmas.member_name_exceptions
        ):
            raise self.fail(info, f"{self.describe(item, info)} should not use uppercase")
        if cname in seen:
            raise self.fail(
                info, f"{self.describe(item, info)} collides with {self.describe(seen[cname], info)}"
            )
        seen[cname] = item

    def resolve(self, name: str, info: SourceInfo | None, what: str) -> Entity:
        found = self.schema.lookup(name)
        if found is None or isinstance(found, (Command, Event)):
            raise self.fail(info, f"{what} uses unknown type '{name}'")
        return found

    def features(self, features: list[Feature], info: SourceInfo | None) -> None:
        seen: dict[str, Named] = {}
        for feat in features:
            self.clash(feat, info, seen)

    # -- per entity ----------------------------------------------------------

    def entity(self, entity: Entity) -> None:
        self.features(entity.features, entity.info)
        if isinstance(entity, EnumType):
            seen: dict[str, Named] = {}
            for value in entity.values:
                self.clash(value, entity.info, seen)
        elif isinstance(entity, ArrayType) and entity.info is not None:
            self.resolve(entity.element, entity.info, entity.info.defn_meta)
        elif isinstance(entity, ObjectType):
            self.object(entity)
        elif isinstance(entity, AlternateType):
            self.alternate(entity)
        elif isinstance(entity, (Command, Event)):
            self.arguments(entity)
            if isinstance(entity, Command) and entity.ret_type is not None and self.new:
                self.returns(entity, entity.ret_type)

    def object(self, obj: ObjectType) -> None:
        if obj.complete:
            return
        if obj.checking:
            raise self.fail(obj.info, f"{'object' if self.new else 'Object'} {obj.name} contains itself")
        obj.checking = True
        seen: dict[str, Named] = {}
        if obj.base is not None:
            base = self.resolve(obj.base, obj.info, "'base'")
            if not isinstance(base, ObjectType) or base.tag is not None:
                raise self.fail(obj.info, f"'base' requires a struct type, {describe_type(base)} isn't")
            self.object(base)
            for m in base.members:
                self.clash(m, obj.info, seen)
        for m in obj.local_members:
            self.resolve(m.type, obj.info, self.describe(m, obj.info))
            self.features(m.features, obj.info)
            self.clash(m, obj.info, seen)
        obj.members = [m for m in seen.values() if isinstance(m, Member)]
        if obj.tag is not None:
            self.branches(obj, seen)
        obj.complete = True

    def branches(self, obj: ObjectType, seen: dict[str, Named]) -> None:
        assert obj.tag is not None
        tag = seen.get(c_name(obj.tag))
        enum: EnumType | None = None
        if obj.base is not None:  # flat union: uncovered values get the empty type
            if self.new:
                enum = self.tag_enum(obj, tag)
            else:
                tag_type = self.schema.lookup(tag.type) if isinstance(tag, Member) else None
                enum = tag_type if isinstance(tag_type, EnumType) else None
        if enum is not None:
            covered = {b.name for b in obj.branches}
            for value in enum.values:
                if value.name not in covered:
                    obj.branches.append(
                        Member(value.name, "q_empty", ifcond=value.ifcond, role="branch", defined_in=obj.name)
                    )
        for branch in obj.branches:
            typ = self.resolve(branch.type, obj.info, self.describe(branch, obj.info))
            if self.new and enum is not None:
                names = [v.name for v in enum.values]
                if branch.name not in names:
                    raise self.fail(
                        obj.info, f"branch '{branch.name}' is not a value of {describe_type(enum)}"
                    )
                if not isinstance(typ, ObjectType):
                    raise self.fail(
                        obj.info, f"{self.describe(branch, obj.info)} cannot use {describe_type(typ)}"
                    )
            if isinstance(typ, ObjectType):
                self.object(typ)
        for branch in obj.branches:
            branch_type = self.schema.lookup(branch.type)
            if isinstance(branch_type, ObjectType):
                copy = dict(seen)
                for m in branch_type.members:
                    self.clash(m, obj.info, copy)

    def tag_enum(self, obj: ObjectType, tag: Named | None) -> EnumType:
        if not isinstance(tag, Member) or tag.name != obj.tag:
            raise self.fail(obj.info, f"discriminator '{obj.tag}' is not a member of 'base'")
        base = self.schema.lookup(tag.defined_in)
        where = (
            "'base'" if isinstance(base, ObjectType) and base.implicit() else f"base type '{tag.defined_in}'"
        )
        enum = self.schema.lookup(tag.type)
        if not isinstance(enum, EnumType):
            raise self.fail(obj.info, f"discriminator member '{obj.tag}' of {where} must be of enum type")
        if tag.optional:
            raise self.fail(obj.info, f"discriminator member '{obj.tag}' of {where} must not be optional")
        if tag.ifcond:
            raise self.fail(obj.info, f"discriminator member '{obj.tag}' of {where} must not be conditional")
        if not obj.branches and not enum.values:
            raise self.fail(obj.info, "union has no branches")
        return enum

    def alternate(self, alt: AlternateType) -> None:
        for branch in alt.branches:
            self.resolve(branch.type, alt.info, self.describe(branch, alt.info))
        seen: dict[str, Named] = {}
        qtypes_seen: dict[str, str] = {}
        for branch in alt.branches:
            self.clash(branch, alt.info, seen)
            if not self.new:
                continue  # 3.1 checked ambiguity with its expressions
            typ = self.resolve(branch.type, alt.info, self.describe(branch, alt.info))
            qtype = _qtype(typ)
            if qtype is None:
                raise self.fail(
                    alt.info, f"{self.describe(branch, alt.info)} cannot use {describe_type(typ)}"
                )
            for qt in _conflicting(typ, qtype):
                if qt in qtypes_seen:
                    raise self.fail(
                        alt.info,
                        f"{self.describe(branch, alt.info)} can't be distinguished from '{qtypes_seen[qt]}'",
                    )
                qtypes_seen[qt] = branch.name

    def arguments(self, ent: Command | Event) -> None:
        what = f"{ent.meta}'s 'data'"
        if ent.arg_type is None:
            if ent.boxed and not self.new:
                raise self.fail(ent.info, "Use of 'boxed' requires 'data'")
            return
        typ = self.resolve(ent.arg_type, ent.info, what)
        if not self.new:
            if isinstance(typ, ObjectType):
                self.object(typ)
                if ent.boxed and not typ.members and not typ.branches:
                    raise self.fail(ent.info, "Cannot use 'boxed' with empty type")
            return
        if not isinstance(typ, ObjectType):
            raise self.fail(ent.info, f"{what} cannot take {describe_type(typ)}")
        if typ.tag is not None and not ent.boxed:
            raise self.fail(ent.info, f"{what} can take {describe_type(typ)} only with 'boxed': true")
        self.object(typ)
        if any(m.ifcond for m in typ.members) and not ent.boxed:
            raise self.fail(ent.info, f"conditional {ent.meta} arguments require 'boxed': true")

    def returns(self, cmd: Command, ret_name: str) -> None:
        ret = self.resolve(ret_name, cmd.info, "command's 'returns'")
        if cmd.name in self.pragmas.command_returns_exceptions:
            return
        elem = self.schema.lookup(ret.element) if isinstance(ret, ArrayType) else ret
        if not isinstance(elem, ObjectType):
            raise self.fail(cmd.info, f"command's 'returns' cannot take {describe_type(ret)}")


_JSON_QTYPE = {"string": "QSTRING", "number": "QNUM", "int": "QNUM", "boolean": "QBOOL", "null": "QNULL"}


def _qtype(typ: Entity) -> str | None:
    if isinstance(typ, EnumType):
        return "QSTRING"
    if isinstance(typ, ObjectType):
        return "QDICT"
    json_type = getattr(typ, "json_type", "")
    return _JSON_QTYPE.get(json_type)


def _conflicting(typ: Entity, qtype: str) -> set[str]:
    found = {qtype}
    if qtype != "QSTRING":
        return found
    if not isinstance(typ, EnumType):
        return found | {"QNUM", "QBOOL"}
    for value in typ.values:
        if value.name in ("on", "off"):
            found.add("QBOOL")
        if re.match(r"[-+0-9.]", value.name):
            found.add("QNUM")
    return found
