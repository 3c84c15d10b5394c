"""A one-line-per-entity text summary of a schema model (the corpus's .out files).

Format (predefined entities left out; optional fields only when set):
  include PATH
  enum NAME [v1, v2 if=COND] prefix=P
  array NAME ELEMENT
  object NAME base=B members=[a: int, b?: str] tag=T branches=[x: X]
  alternate NAME branches=[a: int, b: str]
  command NAME arg=A ret=R boxed gen=false success-response=false allow-oob allow-preconfig coroutine
  event NAME arg=A boxed
Any entity or member may end with ' if=COND' (compact JSON) and ' features=[f, g]'.
"""

from __future__ import annotations

import json

from reference.qapi.schema_model import (
    AlternateType,
    ArrayType,
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


def _extras(ifcond: object, features: list[Feature]) -> str:
    out = ""
    if ifcond:
        out += " if=" + json.dumps(ifcond, separators=(",", ":"))
    if features:
        out += " features=[" + ", ".join(f.name + _extras(f.ifcond, []) for f in features) + "]"
    return out


def _member(m: Member) -> str:
    head = f"{m.name}{'?' if m.optional else ''}"
    if m.type:
        head += f": {m.type}"
    return head + _extras(m.ifcond, m.features)


def _list(items: list[Member]) -> str:
    return "[" + ", ".join(_member(m) for m in items) + "]"


def _entity(e: Entity) -> str:
    if isinstance(e, EnumType):
        line = f"enum {e.name} {_list(e.values)}" + (f" prefix={e.prefix}" if e.prefix else "")
    elif isinstance(e, ArrayType):
        line = f"array {e.name} {e.element}"
    elif isinstance(e, ObjectType):
        line = f"object {e.name}" + (f" base={e.base}" if e.base else "")
        line += f" members={_list(e.local_members)}"
        if e.branches:
            line += f" tag={e.tag} branches={_list(e.branches)}"
    elif isinstance(e, AlternateType):
        line = f"alternate {e.name} branches={_list(e.branches)}"
    elif isinstance(e, Command):
        line = f"command {e.name}" + (f" arg={e.arg_type}" if e.arg_type else "")
        line += f" ret={e.ret_type}" if e.ret_type else ""
        flags = [
            ("boxed", e.boxed),
            ("gen=false", not e.gen),
            ("success-response=false", not e.success_response),
            ("allow-oob", e.allow_oob),
            ("allow-preconfig", e.allow_preconfig),
            ("coroutine", e.coroutine),
        ]
        line += "".join(f" {word}" for word, on in flags if on)
    elif isinstance(e, Event):
        line = (
            f"event {e.name}" + (f" arg={e.arg_type}" if e.arg_type else "") + (" boxed" if e.boxed else "")
        )
    else:
        line = f"{e.meta} {e.name}"
    return line + _extras(e.ifcond, e.features)


def summarize(schema: Schema) -> list[str]:
    lines: list[str] = []
    for e in schema.entities:
        if isinstance(e, Include):
            lines.append(f"include {e.path}")
        elif e.info is not None:
            lines.append(_entity(e))
    return lines
