"""Learn the C types introspection masks: which of int8..uint64 each integer member is.

query-qmp-schema folds every QAPI integer type into "int", yet QEMU's input
visitor takes each differently (reference/qapi/c_int_types.py). The probe
sends, for one integer member at a time, a request the visitor must refuse
however the integer fares: the member's struct also carries an unexpected
member "qconform-probe", which QEMU reports only after visiting every member
in schema order. So no probe can run a command; the reply tells whether the
integer was taken (the baseline error, as with 0) or refused, and how:

- INT64_MAX refused as "Parameter 'BARE' expects int16_t" names a narrow type;
- INT64_MAX taken, then 2**63 refused "expected: integer": int64; taken: uint64
  (size behaves exactly like uint64 over QMP).

Members before the probed one get a valid stand-in value (required ones only,
plus a flat union's tag); the baseline with 0 must be exactly the error the
oracle predicts, or the member is skipped as unreachable.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.errors import QconformError
from conformance.implementations import Implementation, Instance, QmpStream
from reference.qapi.c_int_types import INT64_MAX
from reference.qapi.input_visitor import InputVisitor, VisitAbstains, VisitError
from reference.qapi.introspection import Member, Schema, TypeInfo
from reference.qmp.snapshot import to_qobject
from reference.qobject.values import QDict

PROBE_MEMBER = "qconform-probe"
INT_TYPES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "introspection" / "int-types"
_NARROW = re.compile(r"Parameter '(?P<bare>[^']*)' expects (?P<ctype>u?int(?:8|16|32))_t")
REPLY_TIMEOUT = 5.0

Json = dict[str, Any]
# Wraps the probed member's struct into the command's whole arguments.
Place = Callable[[Json], Json]


def table_path(snapshot_path: Path) -> Path:
    """The table beside a snapshot: int-types/<snapshot name>.json."""
    return snapshot_path.parent / "int-types" / snapshot_path.name


def load_table(snapshot_path: Path) -> dict[str, dict[str, str]]:
    """The snapshot's table, or {} when none was captured."""
    path = table_path(snapshot_path)
    if not path.exists():
        return {}
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise QconformError(f"{path}: cannot read integer types: {err}") from None
    if not isinstance(table, dict) or not all(
        isinstance(members, dict) and all(isinstance(t, str) for t in members.values())
        for members in table.values()
    ):
        raise QconformError(f"{path}: not a {{type: {{member: C type}}}} table")
    return table


@dataclass(frozen=True)
class Slot:
    """One integer member reachable from a command, and how to reach it."""

    command: str
    arg_type: str
    owner: str  # the object type that declares the member
    member: str
    full: str  # QEMU's full_name() of the member
    prefix: Json  # members before it, valid
    place: Place = field(compare=False)

    def request(self, value: int) -> Json:
        inner = {**self.prefix, self.member: value, PROBE_MEMBER: 1}
        return {"execute": self.command, "arguments": self.place(inner)}


class _Examples:
    """A valid stand-in value for any type (the visitor's view only)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def value(self, type_name: str, depth: int = 0) -> Any:
        if depth > 8:
            raise LookupError(type_name)
        info = self.schema.type(type_name)
        if info.meta == "builtin":
            stand_ins = {"string": "qconform", "int": 0, "number": 0, "boolean": False, "value": {}}
            return stand_ins.get(info.json_type)  # null: None
        if info.meta == "enum":
            if not info.values:
                raise LookupError(type_name)
            return info.values[0]
        if info.meta == "array":
            return []
        if info.meta == "alternate":
            # A scalar branch first: an object branch may recurse (BlockdevRef's BlockdevOptions).
            branches = sorted(info.variants, key=lambda v: self.schema.type(v.type).meta == "object")
            return self._first(type_name, [(v.type, None) for v in branches], depth)
        if info.tag:
            return self._first(type_name, [(type_name, v) for v in info.variants], depth)
        return self._struct(info, None, depth)

    def _first(self, type_name: str, choices: list[tuple[str, Any]], depth: int) -> Any:
        """The first choice that has a stand-in (a union's variant, an alternate's branch)."""
        for name, variant in choices:
            try:
                if variant is None:
                    return self.value(name, depth + 1)
                return self._struct(self.schema.type(name), variant, depth)
            except LookupError:
                continue
        raise LookupError(type_name)

    def _struct(self, info: TypeInfo, variant: Any, depth: int) -> Json:
        members = list(info.members)
        result: Json = {}
        if variant is not None:
            result[info.tag] = variant.case
            members += self.schema.type(variant.type).members
        for member in members:
            if not member.optional and member.name not in result:
                result[member.name] = self.value(member.type, depth + 1)
        return result


def _full(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def slots(schema: Schema, commands: Sequence[str], skip: frozenset[str]) -> Iterator[Slot]:
    """Every integer member each command's arguments reach, once per declaring type."""
    examples = _Examples(schema)
    seen: set[tuple[str, str]] = set()
    walking: set[str] = set()

    def walk(command: str, arg_type: str, info: TypeInfo, path: str, place: Place) -> Iterator[Slot]:
        if info.name in walking:
            return
        walking.add(info.name)
        try:
            groups: list[tuple[str, tuple[Member, ...], Json]] = [(info.name, info.members, {})]
            if info.tag:
                for variant in info.variants:
                    groups.append((variant.type, schema.type(variant.type).members, {info.tag: variant.case}))
            for owner, owned, tag in groups:
                members = info.members + owned if owner != info.name else info.members
                yield from walk_members(command, arg_type, owner, members, tag, path, place)
        finally:
            walking.discard(info.name)

    def walk_members(
        command: str,
        arg_type: str,
        owner: str,
        members: tuple[Member, ...],
        tag: Json,
        path: str,
        place: Place,
    ) -> Iterator[Slot]:
        own = set(m.name for m in schema.type(owner).members) if owner in schema.types else set()
        for index, member in enumerate(members):
            if member.name not in own:
                continue  # a base member, probed with the union itself
            try:
                prefix = dict(tag)
                for before in members[:index]:
                    if not before.optional and before.name not in prefix:
                        prefix[before.name] = examples.value(before.type)
            except LookupError:
                continue
            target = schema.type(member.type)
            full = _full(path, member.name)
            if target.meta == "builtin" and target.json_type == "int":
                if (owner, member.name) not in seen:
                    seen.add((owner, member.name))
                    yield Slot(command, arg_type, owner, member.name, full, prefix, place)
                continue
            for inner, wrap in _containers(schema, target):
                yield from walk(
                    command,
                    arg_type,
                    inner,
                    full + ("[0]" if wrap else ""),
                    _nest(place, prefix, member.name, wrap),
                )

    for command in commands:
        if command in skip or command not in schema.commands:
            continue
        arg_type = schema.commands[command].arg_type
        yield from walk(command, arg_type, schema.type(arg_type), "", lambda inner: inner)


def _containers(schema: Schema, info: TypeInfo) -> Iterator[tuple[TypeInfo, bool]]:
    """The object types a member's value may be a struct of (wrap: as a list's first element)."""
    if info.meta == "object":
        yield info, False
    elif info.meta == "array":
        element = schema.type(info.element)
        if element.meta == "object":
            yield element, True
    elif info.meta == "alternate":
        for variant in info.variants:
            branch = schema.type(variant.type)
            if branch.meta == "object":
                yield branch, False
                return  # the visitor takes the first object branch


def _nest(place: Place, prefix: Json, name: str, wrap: bool) -> Place:
    def nested(inner: Json) -> Json:
        return place({**prefix, name: [inner] if wrap else inner})

    return nested


class _Session:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.stream: QmpStream = instance.connect()
        self._line()  # the greeting
        self.ask({"execute": "qmp_capabilities"})

    def _line(self) -> Json:
        while True:
            line = self.stream.read_line(REPLY_TIMEOUT)
            if line is None:
                report = self.instance.crash_report() or "it closed the connection"
                raise QconformError(f"integer probe: {report}")
            reply = json.loads(line)
            if "event" not in reply:
                return dict(reply)

    def ask(self, request: Json) -> Json:
        self.stream.send(json.dumps(request).encode() + b"\n")
        return self._line()


def _error(reply: Json) -> str | None:
    error = reply.get("error")
    return str(error.get("desc")) if isinstance(error, dict) else None


def classify(session: _Session, visitor: InputVisitor, slot: Slot) -> str | None:
    """The member's C type, or None when it cannot be told."""
    baseline = slot.request(0)
    try:
        visitor.check_arguments(slot.arg_type, to_qobject_dict(baseline["arguments"]))
        return None  # the oracle would let it run: never send that
    except VisitAbstains:
        return None
    except VisitError as err:
        predicted = err.messages
    taken = _error(session.ask(baseline))
    if taken is None or taken not in predicted:
        return None
    first = _error(session.ask(slot.request(INT64_MAX)))
    narrow = _NARROW.fullmatch(first or "")
    if narrow is not None and narrow["bare"] == slot.member:
        return narrow["ctype"]
    if first != taken:
        return None
    second = _error(session.ask(slot.request(INT64_MAX + 1)))
    if second == taken:
        return "uint64"
    if second == f"Invalid parameter type for '{slot.full}', expected: integer":
        return "int64"
    return None


def to_qobject_dict(arguments: Json) -> QDict:
    value = to_qobject(arguments)
    assert isinstance(value, QDict)
    return value


@dataclass
class ProbeResult:
    table: dict[str, dict[str, str]]
    unreached: list[str]  # owner.member
    seconds: float


def _by_name(entries: Any) -> dict[str, Any]:
    return {entry["name"]: entry for entry in entries} if isinstance(entries, list) else {}


def check_schema(session: _Session, expected: Any, where: Path) -> None:
    """Refuse to probe a binary whose schema is not the snapshot's: the table would lie."""
    live = _by_name(session.ask({"execute": "query-qmp-schema"}).get("return"))
    stored = _by_name(expected)
    if live != stored:
        differ = sorted(name for name in live.keys() | stored.keys() if live.get(name) != stored.get(name))
        raise QconformError(
            f"{where}: the binary's schema differs from the snapshot in {len(differ)} entries "
            f"(first: {differ[0]}); capture a new snapshot"
        )


def probe(
    impl: Implementation, schema: Schema, commands: Sequence[str], expected: tuple[Any, Path] | None = None
) -> ProbeResult:
    """Classify every integer member the implementation's commands reach.

    expected: the snapshot's query-qmp-schema and path, checked against the binary first.
    """
    visitor = InputVisitor(schema, impl.profile)
    started = time.monotonic()
    table: dict[str, dict[str, str]] = {}
    unreached: list[str] = []
    instance = impl.launch()
    try:
        session = _Session(instance)
        if expected is not None:
            check_schema(session, *expected)
        for slot in slots(schema, commands, impl.profile.unvisited_commands):
            ctype = classify(session, visitor, slot)
            if ctype is None:
                unreached.append(f"{slot.owner}.{slot.member}")
            else:
                table.setdefault(slot.owner, {})[slot.member] = ctype
        session.stream.close()
    finally:
        instance.stop()
    ordered = {owner: dict(sorted(members.items())) for owner, members in sorted(table.items())}
    return ProbeResult(ordered, sorted(unreached), time.monotonic() - started)


def capture_int_types(impl: Implementation, snapshot_path: Path) -> ProbeResult:
    """Probe the implementation whose snapshot this is; write the table beside it."""
    from conformance.jsonfile import write_json
    from conformance.snapshots import model_from_file

    model = model_from_file(snapshot_path, impl.profile, exact_identity=False)
    result = probe(impl, model.schema, model.command_order)
    write_json(table_path(snapshot_path), result.table)
    return result


def table_for_snapshot(impl: Implementation, snapshot_path: Path) -> ProbeResult:
    """Write the table of an existing snapshot, once the binary proves to have its schema."""
    from conformance.jsonfile import write_json
    from conformance.snapshots import model_from_file, read_snapshot

    stored = read_snapshot(snapshot_path)
    entries = stored.get("query-qmp-schema") if isinstance(stored, dict) else None
    if not isinstance(entries, list):
        raise QconformError(f"{snapshot_path}: no query-qmp-schema in the snapshot")
    model = model_from_file(snapshot_path, impl.profile, exact_identity=False)
    result = probe(impl, model.schema, model.command_order, (entries, snapshot_path))
    write_json(table_path(snapshot_path), result.table)
    return result
