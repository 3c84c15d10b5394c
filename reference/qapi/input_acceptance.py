"""A quick yes for arguments the strict input visitor would accept.

Almost every request the oracle sees is valid, and the exact visitor walks
every member of a type (a flat union like BlockdevOptions has dozens, most
absent), building paths and typed values it then throws away. This check
walks only the members present, against tables compiled once per type.

It answers True only where the visitor would accept, with no error and no
abstention; anything else (an error, an integer outside 0..127 of a member
whose C type the schema's probed table does not give, an alternate
without a branch, a schema it does not understand) answers False, and the
caller runs the exact visitor, which alone knows the message and its order.
tests/property/test_input_acceptance.py holds the two equal.
"""

from __future__ import annotations

from collections.abc import Callable

from reference.qapi.c_int_types import C_INT_TYPES
from reference.qapi.introspection import Member, Schema, TypeInfo
from reference.qobject.values import QDict, QNull, QObject

Check = Callable[[QObject], bool]
# A member table: name -> (type name, optional, own check or None), and how many are required.
Table = tuple[dict[str, tuple[str, bool, Check | None]], int]


def _never(value: QObject) -> bool:
    return False


def _always(value: QObject) -> bool:
    return True


def _is_string(value: QObject) -> bool:
    return type(value) is str


def _is_boolean(value: QObject) -> bool:
    return type(value) is bool


def _is_null(value: QObject) -> bool:
    return type(value) is QNull


def _is_number(value: QObject) -> bool:
    return type(value) is int or type(value) is float


def _is_small_int(value: QObject) -> bool:
    # Outside 0..127 the visitor abstains (the C type is masked): not a yes.
    return type(value) is int and 0 <= value < 128


# Exact types only: str, bool, int and float subclasses are not what the JSON parser makes.
BUILTINS: dict[str, Check] = {
    "value": _always,
    "string": _is_string,
    "boolean": _is_boolean,
    "null": _is_null,
    "number": _is_number,
    "int": _is_small_int,
}

# The JSON type an alternate's branch is chosen by, for values of exact parser types.
_JSON_TYPES: dict[type, str] = {
    QDict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    QNull: "null",
}


def _table(members: tuple[Member, ...], checks: dict[str, Check]) -> Table | None:
    table = {m.name: (m.type, m.optional, checks.get(m.name)) for m in members}
    if len(table) != len(members):
        return None  # a name twice: leave it to the exact visitor
    return table, sum(not m.optional for m in members)


class Acceptance:
    """Compiled checks for one schema, made on first use of each type."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._checks: dict[str, tuple[TypeInfo, Check]] = {}

    def accepts(self, type_name: str, value: QObject) -> bool:
        info = self.schema.types.get(type_name)
        entry = self._checks.get(type_name)
        if entry is None or entry[0] is not info:  # new, or the schema changed under it
            if info is None:
                return False
            entry = (info, self._compile(info))
            self._checks[type_name] = entry
        return entry[1](value)

    def _compile(self, info: TypeInfo) -> Check:
        meta = info.meta
        if meta == "object":
            return self._object(info)
        if meta == "array":
            element = info.element
            accepts = self.accepts

            def check_array(value: QObject) -> bool:
                return type(value) is list and all(accepts(element, item) for item in value)

            return check_array
        if meta == "enum":
            names = frozenset(info.values)
            return lambda value: type(value) is str and value in names
        if meta == "alternate":
            return self._alternate(info)
        if meta == "builtin":
            return BUILTINS.get(info.json_type, _never)
        return _never

    def _int_checks(self, owner: TypeInfo) -> dict[str, Check]:
        """Integer members whose C type the probed table gives, by name."""
        checks: dict[str, Check] = {}
        for member in owner.members:
            ctype = C_INT_TYPES.get(self.schema.int_types.get(owner.name, {}).get(member.name, ""))
            target = self.schema.types.get(member.type)
            if ctype is not None and target is not None and target.json_type == "int":
                checks[member.name] = ctype.accepts
        return checks

    def _object(self, info: TypeInfo) -> Check:
        own = self._int_checks(info)
        base = _table(info.members, own)
        if base is None:
            return _never
        # Flat union: the tag's value picks the branch, whose members follow the base's.
        branches: dict[str, Table] = {}
        for variant in info.variants if info.tag else ():
            if variant.case in branches:
                continue  # the visitor takes the first
            branch = self.schema.types.get(variant.type)
            table = (
                _table(info.members + branch.members, {**own, **self._int_checks(branch)})
                if branch is not None
                else None
            )
            if table is None:
                return _never
            branches[variant.case] = table
        tag = info.tag
        accepts = self.accepts

        def check_object(value: QObject) -> bool:
            if not isinstance(value, QDict):
                return False
            members, required = base
            if branches:
                tag_value = value.get(tag)
                if type(tag_value) is str:
                    members, required = branches.get(tag_value, base)
            for name, item in value.unordered_items():
                member = members.get(name)
                if member is None:
                    return False  # unexpected
                check = member[2]
                if not (check(item) if check is not None else accepts(member[0], item)):
                    return False
                if not member[1]:
                    required -= 1
            return required == 0

        return check_object

    def _alternate(self, info: TypeInfo) -> Check:
        # The first branch whose kind takes the value's JSON type is the one visited.
        chosen: dict[str, str] = {}
        integer_branch: str | None = None  # a branch of kind int takes integers only
        for variant in info.variants:
            branch = self.schema.types.get(variant.type)
            if branch is None:
                return _never
            if branch.meta in ("object", "array"):
                kinds = {branch.meta}
            elif branch.meta == "enum":
                kinds = {"string"}
            elif branch.meta == "builtin" and branch.json_type == "value":
                kinds = set(_JSON_TYPES.values())
            elif branch.meta == "builtin" and branch.json_type == "int":
                if integer_branch is None and "number" not in chosen:
                    integer_branch = variant.type
                continue
            elif branch.meta == "builtin":
                kinds = {branch.json_type}
            else:
                return _never  # an alternate of alternates: not QAPI
            for kind in kinds:
                chosen.setdefault(kind, variant.type)
        accepts = self.accepts

        def check_alternate(value: QObject) -> bool:
            kind = _JSON_TYPES.get(type(value))
            if kind is None:
                return False
            if integer_branch is not None and type(value) is int:
                return accepts(integer_branch, value)
            branch = chosen.get(kind)
            return branch is not None and accepts(branch, value)

        return check_alternate


# One per schema; the schema is held, so its id is not reused while it is here.
_BY_SCHEMA: dict[int, Acceptance] = {}
_LIMIT = 64


def acceptance(schema: Schema) -> Acceptance:
    found = _BY_SCHEMA.get(id(schema))
    if found is None or found.schema is not schema:
        if len(_BY_SCHEMA) >= _LIMIT:
            _BY_SCHEMA.clear()
        found = _BY_SCHEMA[id(schema)] = Acceptance(schema)
    return found
