"""A schema model built from query-qmp-schema output (SchemaInfo entries).

Introspection masks most type names, so this model knows a type's shape but
not always its C name; visitors that would need the name abstain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reference.qobject.values import QDict

JsonObject = Mapping[str, Any]


class SchemaError(ValueError):
    """Introspection data that does not have the shape SchemaInfo has."""


@dataclass(frozen=True)
class Member:
    name: str
    type: str
    optional: bool


@dataclass(frozen=True)
class Variant:
    case: str
    type: str


@dataclass(frozen=True)
class TypeInfo:
    name: str
    meta: str  # builtin | enum | array | object | alternate
    json_type: str = ""  # builtin: string|number|int|boolean|null|value
    values: tuple[str, ...] = ()  # enum
    element: str = ""  # array
    members: tuple[Member, ...] = ()  # object
    tag: str = ""  # object with variants (flat union)
    variants: tuple[Variant, ...] = ()  # object variants, or alternate branches


@dataclass(frozen=True)
class CommandInfo:
    name: str
    arg_type: str
    ret_type: str
    allow_oob: bool = False
    features: tuple[str, ...] = ()


@dataclass
class Schema:
    types: dict[str, TypeInfo] = field(default_factory=dict)
    commands: dict[str, CommandInfo] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    # The C type of integer members, where the binary was probed: {object type: {member: "uint32"}}.
    int_types: dict[str, dict[str, str]] = field(default_factory=dict)

    def type(self, name: str) -> TypeInfo:
        return self.types[name]


def _need(entry: JsonObject, key: str) -> Any:
    try:
        return entry[key]
    except KeyError:
        raise SchemaError(f"SchemaInfo entry {entry.get('name', '?')!r} lacks '{key}'") from None


def load_schema(entries: Iterable[JsonObject]) -> Schema:
    """Build a Schema from a list of SchemaInfo objects (as parsed JSON)."""
    schema = Schema()
    for entry in entries:
        name = _need(entry, "name")
        meta = _need(entry, "meta-type")
        features = tuple(entry.get("features", ()))
        if meta == "command":
            schema.commands[name] = CommandInfo(
                name=name,
                arg_type=_need(entry, "arg-type"),
                ret_type=_need(entry, "ret-type"),
                allow_oob=bool(entry.get("allow-oob", False)),
                features=features,
            )
        elif meta == "event":
            schema.events[name] = _need(entry, "arg-type")
        elif meta == "builtin":
            schema.types[name] = TypeInfo(name, meta, json_type=_need(entry, "json-type"))
        elif meta == "enum":
            schema.types[name] = TypeInfo(name, meta, values=tuple(_need(entry, "values")))
        elif meta == "array":
            schema.types[name] = TypeInfo(name, meta, element=_need(entry, "element-type"))
        elif meta == "object":
            schema.types[name] = TypeInfo(
                name,
                meta,
                members=tuple(Member(m["name"], m["type"], "default" in m) for m in _need(entry, "members")),
                tag=entry.get("tag", ""),
                variants=tuple(Variant(v["case"], v["type"]) for v in entry.get("variants", ())),
            )
        elif meta == "alternate":
            schema.types[name] = TypeInfo(
                name,
                meta,
                variants=tuple(Variant("", m["type"]) for m in _need(entry, "members")),
            )
        else:
            raise SchemaError(f"SchemaInfo entry {name!r} has unknown meta-type {meta!r}")
    return schema


def object_members(schema: Schema, info: TypeInfo, value: QDict) -> list[Member]:
    """The members a visitor walks for this object, in QEMU's order: the base's,
    then those of the branch the tag selects (flat unions). An invalid tag
    selects no branch; visiting the base reports it first."""
    members = list(info.members)
    if info.tag:
        tag_value = value.get(info.tag)
        branch = next((v.type for v in info.variants if v.case == tag_value), None)
        if branch is not None:
            members += schema.type(branch).members
    return members
