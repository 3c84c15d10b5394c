"""The schema model a QAPI frontend produces: entities in definition order.

Implicit entities are kept as QEMU makes them: arrays 'TList', command and
event argument objects 'q_obj_NAME-arg', union bases 'q_obj_NAME-base', the
empty object 'q_empty', and (3.1 simple unions) 'NAMEKind' enums and
'q_obj_T-wrapper' branch objects. Predefined entities have no info.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reference.qapi.schema_source import Dialect, SourceInfo

Cond = object  # 7.2: str or {'all'|'any'|'not': ...}; 3.1: list of C conditions


@dataclass
class Feature:
    name: str
    ifcond: Cond = None
    role: str = "feature"
    defined_in: str = ""


@dataclass
class Member:
    """An object member, enum value, or union/alternate branch (by role)."""

    name: str
    type: str = ""
    optional: bool = False
    ifcond: Cond = None
    features: list[Feature] = field(default_factory=list)
    role: str = "member"
    defined_in: str = ""


@dataclass
class Entity:
    name: str
    info: SourceInfo | None
    ifcond: Cond = None
    features: list[Feature] = field(default_factory=list)
    meta: str = ""


@dataclass
class BuiltinType(Entity):
    json_type: str = ""


@dataclass
class EnumType(Entity):
    values: list[Member] = field(default_factory=list)
    prefix: str | None = None


@dataclass
class ArrayType(Entity):
    element: str = ""


@dataclass
class ObjectType(Entity):
    base: str | None = None
    local_members: list[Member] = field(default_factory=list)
    tag: str | None = None  # the discriminator (3.1 simple unions: 'type')
    branches: list[Member] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)  # base's then local, after checking
    checking: bool = False
    complete: bool = False

    def implicit(self) -> bool:
        return self.name.startswith("q_")


@dataclass
class AlternateType(Entity):
    branches: list[Member] = field(default_factory=list)


@dataclass
class Command(Entity):
    arg_type: str | None = None
    ret_type: str | None = None
    boxed: bool = False
    gen: bool = True
    success_response: bool = True
    allow_oob: bool = False
    allow_preconfig: bool = False
    coroutine: bool = False


@dataclass
class Event(Entity):
    arg_type: str | None = None
    boxed: bool = False


@dataclass
class Include:
    path: str
    info: SourceInfo


@dataclass
class Schema:
    dialect: Dialect
    entities: list[Entity | Include] = field(default_factory=list)
    by_name: dict[str, Entity] = field(default_factory=dict)

    def lookup(self, name: str) -> Entity | None:
        return self.by_name.get(name)

    def defined(self) -> list[Entity]:
        """User-visible entities in order (predefined ones left out)."""
        return [e for e in self.entities if isinstance(e, Entity) and e.info is not None]


def type_meta(entity: Entity) -> str:
    """QEMU's word for a type's kind in messages ('built-in', 'union', ...)."""
    if isinstance(entity, ObjectType):
        return "union" if entity.tag is not None else "struct"
    return entity.meta


JSON_TYPES = {
    "str": "string",
    "number": "number",
    "int": "int",
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "int",
    "uint8": "int",
    "uint16": "int",
    "uint32": "int",
    "uint64": "int",
    "size": "int",
    "bool": "boolean",
    "any": "value",
    "null": "null",
}
