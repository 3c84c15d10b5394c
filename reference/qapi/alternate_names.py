"""The names of alternates that QEMU's type error shows but introspection hides.

When a member's JSON type fits none of an alternate's branches, the generated
visitor says "Invalid parameter type for 'NAME', expected: ALTERNATE": NAME is
the member's bare name ("null" for a list element) and ALTERNATE the type's
own name, which query-qmp-schema masks as a number. An alternate is known here
by the shape of its branches; any other stays unknown (the visit abstains).
"""

from __future__ import annotations

from reference.qapi.introspection import Schema, TypeInfo


def _is_blockdev_options(info: TypeInfo) -> bool:
    # BlockdevOptions: the flat union on 'driver' whose base carries node-name
    names = {member.name for member in info.members}
    return info.meta == "object" and info.tag == "driver" and {"node-name", "discard"} <= names


def alternate_name(schema: Schema, info: TypeInfo) -> str | None:
    """The alternate's name as QEMU's message gives it, or None where unknown."""
    branches = [schema.type(variant.type) for variant in info.variants]
    objects = [branch for branch in branches if branch.meta == "object"]
    scalars = sorted(branch.json_type for branch in branches if branch.meta == "builtin")
    if (
        len(objects) != 1
        or not _is_blockdev_options(objects[0])
        or len(branches) != len(objects) + len(scalars)
    ):
        return None
    return {("string",): "BlockdevRef", ("null", "string"): "BlockdevRefOrNull"}.get(tuple(scalars))


def type_error(schema: Schema, info: TypeInfo, bare: str | None) -> str | None:
    """QEMU's message for a value no branch of the alternate takes, or None where unknown."""
    name = alternate_name(schema, info)
    if name is None:
        return None
    return f"Invalid parameter type for '{bare if bare is not None else 'null'}', expected: {name}"
