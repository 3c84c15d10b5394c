"""QEMU's QObject input visitor in strict (QMP) mode, driven by introspection.

It checks an argument object against a command's arg-type and returns the
error QEMU would report, or the set of errors it might report where QEMU's
choice follows GHashTable iteration order. Errors that depend on a type
introspection masks are not predicted: the visit abstains. That covers
alternates (QEMU's message names the C type; reference/qapi/alternate_names.py
knows BlockdevRef's) and integers (introspection
folds int8..uint64 and size into "int", and they differ in range and in
message: signed types say "expected: integer", unsigned ones "expects uint64",
narrow ones "Parameter 'BARE' expects int8_t") unless the schema carries the
binary's probed table of C types (conformance/int_types.py) with an entry for
the member: then reference/qapi/c_int_types.py decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from reference.profiles import QEMU_7_2, Profile
from reference.qapi.alternate_names import type_error
from reference.qapi.c_int_types import C_INT_TYPES, CIntError, CIntType, convert
from reference.qapi.input_acceptance import acceptance
from reference.qapi.introspection import Schema, TypeInfo, object_members
from reference.qapi.qapi_values import QTYPES, Alternate, AnyValue, Struct
from reference.qobject.values import QDict, QNull, QObject

# Every QAPI integer type (int8 .. uint64, size) accepts exactly these values alike.
COMMON_INT_RANGE = range(0, 128)

# 7.2's commands whose handler reads the raw QDict, not this visitor ('gen': false);
# each version's set is its profile's unvisited_commands.
UNVISITED_COMMANDS = QEMU_7_2.unvisited_commands


@dataclass(frozen=True)
class VisitError(Exception):
    """QEMU's error; several messages when hash order decides which one.

    partial: what the visit had built when it failed (see build()).
    """

    messages: frozenset[str]
    partial: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class VisitAbstains(Exception):
    reason: str


def unexpected(names: Iterable[str]) -> VisitError:
    """Members nobody visited: QEMU names the first in GHashTable order, so any of them."""
    return VisitError(frozenset(f"Parameter '{name}' is unexpected" for name in names))


class _Path:
    """A visit position, rendered like QEMU's full_name(): a.b[0].c."""

    def __init__(self, parts: tuple[str | int, ...] = ()) -> None:
        self.parts = parts

    def child(self, part: str | int) -> _Path:
        return _Path((*self.parts, part))

    def render(self) -> str:
        if not self.parts:
            return "<anonymous>"
        text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in self.parts)
        # full_name_nth() erases exactly one leading dot: a key ".x" stays ".x", "" stays "".
        return text[1:] if text.startswith(".") else text


def _json_type_name(value: QObject) -> str:
    if isinstance(value, QDict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    return "null"


class InputVisitor:
    def __init__(self, schema: Schema, profile: Profile) -> None:
        self.schema = schema
        self.profile = profile

    def check_arguments(self, arg_type: str, arguments: QDict) -> None:
        """Raise VisitError or VisitAbstains unless QEMU accepts the arguments."""
        if acceptance(self.schema).accepts(arg_type, arguments):
            return  # the usual case, decided without the walk below
        self._visit(arg_type, arguments, _Path(), None)

    def build(self, type_name: str, value: QObject) -> Any:
        """The typed value (reference.qapi.qapi_values) QEMU builds from value.

        On error the VisitError's partial is the value as far as it got: the
        members set so far, a list cut short with the failing slot None.
        """
        return self._visit(type_name, value, _Path(), None)

    def _type_error(self, path: _Path, expected: str) -> VisitError:
        return VisitError(frozenset({f"Invalid parameter type for '{path.render()}', expected: {expected}"}))

    def _visit(
        self, type_name: str, value: QObject, path: _Path, bare: str | None, ctype: CIntType | None = None
    ) -> Any:
        info = self.schema.type(type_name)
        if info.meta == "object":
            return self._visit_object(info, value, path)
        if info.meta == "array":
            if not isinstance(value, list):
                raise self._type_error(path, "array")
            items: list[Any] = []
            for index, item in enumerate(value):
                items.append(None)  # the link exists before its element is visited
                try:
                    items[-1] = self._visit(info.element, item, path.child(index), None)
                except VisitError as err:
                    items[-1] = err.partial
                    raise replace(err, partial=items) from None
            return items
        if info.meta == "enum":
            if not isinstance(value, str):
                raise self._type_error(path, "string")
            if value not in info.values:
                # QEMU names the bare member here, and list items have none.
                name = bare if bare is not None else "null"
                message = self.profile.enum_message.format(name=name, value=value)
                raise VisitError(frozenset({message}))
            return value
        if info.meta == "alternate":
            return self._visit_alternate(info, value, path, bare)
        if ctype is not None and info.json_type == "int" and bare is not None:
            try:
                return convert(ctype, value, path.render(), bare)
            except CIntError as err:
                raise VisitError(frozenset({err.message})) from None
        return self._visit_builtin(info, value, path)

    def _visit_builtin(self, info: TypeInfo, value: QObject, path: _Path) -> Any:
        kind = info.json_type
        if kind == "value":
            return AnyValue(value)
        if kind == "string" and not isinstance(value, str):
            raise self._type_error(path, "string")
        if kind == "boolean" and not isinstance(value, bool):
            raise self._type_error(path, "boolean")
        if kind == "null" and not isinstance(value, QNull):
            raise self._type_error(path, "null")
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise self._type_error(path, "number")
        # Outside 0..127 the verdict and message depend on the masked C type.
        if kind == "int" and (
            isinstance(value, bool) or not isinstance(value, int) or value not in COMMON_INT_RANGE
        ):
            raise VisitAbstains(f"integer member '{path.render()}' = {value!r}: its C type is masked")
        # A number member holds a double, whatever JSON number it was given.
        return float(value) if kind == "number" and isinstance(value, int) else value

    def _visit_object(self, info: TypeInfo, value: QObject, path: _Path) -> Struct:
        if not isinstance(value, QDict):
            raise self._type_error(path, "object")
        built = Struct(info.name)
        unvisited = set(value.keys())
        try:
            members = object_members(self.schema, info, value)
            branch = _branch_name(info, value)
            for index, member in enumerate(members):
                owner = info.name if index < len(info.members) else branch
                ctype = C_INT_TYPES.get(self.schema.int_types.get(owner, {}).get(member.name, ""))
                self._visit_member(
                    member.name, member.type, member.optional, value, path, unvisited, built, ctype
                )
            if unvisited:
                raise unexpected(path.child(key).render() for key in unvisited)
        except VisitError as err:
            raise replace(err, partial=built) from None
        return built

    def _visit_member(
        self,
        name: str,
        type_name: str,
        optional: bool,
        container: QDict,
        path: _Path,
        unvisited: set[str],
        built: Struct,
        ctype: CIntType | None = None,
    ) -> None:
        member_path = path.child(name)
        if name not in container:
            if optional:
                return
            raise VisitError(frozenset({f"Parameter '{member_path.render()}' is missing"}))
        unvisited.discard(name)
        member_value = container.get(name)
        assert member_value is not None
        built.members[name] = None  # has_NAME is set before the member is visited
        try:
            built.members[name] = self._visit(type_name, member_value, member_path, name, ctype)
        except VisitError as err:
            built.members[name] = err.partial
            raise

    def _visit_alternate(self, info: TypeInfo, value: QObject, path: _Path, bare: str | None) -> Alternate:
        wanted = _json_type_name(value)
        for variant in info.variants:
            branch = self.schema.type(variant.type)
            if _accepts_json_type(branch, wanted, value):
                built = Alternate(info.name, QTYPES[wanted])
                try:
                    built.value = self._visit(variant.type, value, path, bare)
                except VisitError as err:
                    built.value = err.partial
                    raise replace(err, partial=built) from None
                return built
        message = type_error(self.schema, info, bare)
        if message is None:
            raise VisitAbstains(f"alternate {info.name}: QEMU's message names its unmasked type")
        raise VisitError(frozenset({message}), partial=None)


def _branch_name(info: TypeInfo, value: QDict) -> str:
    """The flat union branch object_members() took, or "" (as it does: the first case)."""
    if not info.tag:
        return ""
    tag_value = value.get(info.tag)
    return next((v.type for v in info.variants if v.case == tag_value), "")


def _accepts_json_type(branch: TypeInfo, wanted: str, value: QObject) -> bool:
    if branch.meta in ("object", "array"):
        return branch.meta == wanted
    if branch.meta == "enum":
        return wanted == "string"
    kind = branch.json_type
    if kind == "int":
        return wanted == "number" and isinstance(value, int)
    return {"value": True}.get(kind, kind == wanted)
