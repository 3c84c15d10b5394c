"""Hypothesis strategies for every command's arguments, driven by a schema.

Valid values fill every required member and some optional ones; invalid ones
take a valid value and break it at one to three sites (wrong JSON type,
missing or unexpected member, integer out of range, bad enum value, wrong
alternate branch, bad list element). The schema is interpreted at draw time,
so building a command's strategy costs next to nothing.

What may be sent is the oracle's call (verdict()): arguments it rejects are
safe for any command, since QEMU's marshaller rejects them before the command
runs; arguments it accepts go only to side-effect-free commands.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from conformance.cases import QmpCase
from reference.profiles import Profile
from reference.qapi.input_visitor import InputVisitor, VisitAbstains, VisitError
from reference.qapi.introspection import Member, Schema, TypeInfo
from reference.qmp.commands import HANDLERS
from reference.qmp.snapshot import to_qobject
from reference.qobject.values import QDict

MAX_DEPTH = 4  # deeper than this, optional members stay out and lists stay empty
Path = tuple[str | int, ...]

# One sample value per JSON kind, for "wrong type" mutations.
SAMPLES: dict[str, Any] = {
    "string": "x",
    "int": 7,
    "number": 1.5,
    "boolean": True,
    "null": None,
    "object": {},
    "array": [],
}
OUT_OF_RANGE = [2**63, 2**64, 2**63 - 1, -1, -(2**63) - 1, 128, 256, 65536, 2**32, -129]
STRINGS = st.sampled_from(["", "a", "node0", "/machine", "x-y_z.1"]) | st.text("ab'\"\\é\x01", max_size=4)
BAD_KEYS = st.sampled_from(["zz", "x-unexpected", "", ".x", "a b", "é"])

# Commands that read nothing or only query state; anything else may act.
SIDE_EFFECT_FREE = frozenset(
    {"qmp_capabilities", "qom-list", "qom-get", "qom-list-types", "qom-list-properties"}
)
NEVER_RUN = frozenset({"query-qmp-schema"})  # harmless but a 100 kB reply: not worth its time


def side_effect_free(command: str) -> bool:
    return command not in NEVER_RUN and (command.startswith("query-") or command in SIDE_EFFECT_FREE)


@dataclass(frozen=True)
class Generated:
    command: str
    arguments: dict[str, Any]
    mutations: tuple[str, ...] = ()  # empty: meant to be valid

    def request(self, request_id: int) -> dict[str, Any]:
        return {"execute": self.command, "arguments": self.arguments, "id": request_id}


def json_kinds(schema: Schema, type_name: str) -> frozenset[str]:
    """The JSON kinds a type takes without a type error (for alternates: picks a branch)."""
    info = schema.type(type_name)
    if info.meta in ("object", "array"):
        return frozenset({info.meta})
    if info.meta == "enum":
        return frozenset({"string"})
    if info.meta == "alternate":
        kinds: set[str] = set()
        for variant in info.variants:
            kinds |= json_kinds(schema, variant.type)
        # QEMU picks a branch by QType: any number goes to an int or number branch.
        return frozenset(kinds | {"number"} if kinds & {"int", "number"} else kinds)
    return {
        "value": frozenset(SAMPLES),
        "number": frozenset({"int", "number"}),
    }.get(info.json_type, frozenset({info.json_type}))


class ArgumentGenerator:
    """Strategies for one schema's command arguments."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def arguments(self, command: str, *, valid: bool | None = None) -> st.SearchStrategy[Generated]:
        """Argument objects for command: valid, invalid, or (None) mostly invalid."""
        return _generated(self, command, valid)

    def draw(self, draw: st.DrawFn, command: str, valid: bool | None) -> Generated:
        arg_type = self.schema.commands[command].arg_type
        value = self._valid(draw, arg_type, 0)
        broken = not valid if valid is not None else draw(st.integers(0, 4)) > 0
        if not broken:
            return Generated(command, value)
        sites = list(self._sites(arg_type, value, ()))
        count = draw(st.integers(1, min(3, len(sites))))
        chosen = draw(st.lists(st.sampled_from(sites), min_size=count, max_size=count, unique=True))
        mutations = tuple(m for site in chosen if (m := self._mutate(draw, value, site)))
        if not mutations:  # e.g. "missing" where nothing is required: an unexpected member always breaks
            root = self.schema.type(arg_type)
            value.update(self._broken(draw, "unexpected", root, value))
            mutations = ("unexpected@.",)
        return Generated(command, value, mutations)

    # -- valid values ------------------------------------------------------

    def _valid(self, draw: st.DrawFn, type_name: str, depth: int) -> Any:
        info = self.schema.type(type_name)
        if info.meta == "object":
            return self._object(draw, info, depth)
        if info.meta == "array":
            size = draw(st.integers(0, 2 if depth < MAX_DEPTH else 0))
            return [self._valid(draw, info.element, depth + 1) for _ in range(size)]
        if info.meta == "enum":
            return draw(st.sampled_from(info.values))
        if info.meta == "alternate":
            branches = [v.type for v in info.variants]
            if depth >= MAX_DEPTH:
                branches = [b for b in branches if self.schema.type(b).meta != "object"] or branches
            return self._valid(draw, draw(st.sampled_from(branches)), depth + 1)
        return self._builtin(draw, info.json_type)

    def _builtin(self, draw: st.DrawFn, kind: str) -> Any:
        if kind == "string":
            return draw(STRINGS)
        if kind == "int":
            return draw(st.integers(0, 127))  # the range every integer type accepts
        if kind == "number":
            return draw(st.sampled_from([0, 1, 0.5, -2.25, 1e300]))
        if kind == "boolean":
            return draw(st.booleans())
        if kind == "null":
            return None
        return draw(st.sampled_from([None, 0, "x", True, [], {}, {"a": [1]}]))  # any

    def _object(self, draw: st.DrawFn, info: TypeInfo, depth: int) -> dict[str, Any]:
        value: dict[str, Any] = {}
        for member in self._fill(draw, info.members, depth):
            value[member.name] = self._valid(draw, member.type, depth + 1)
        if info.tag:
            branch = next((v.type for v in info.variants if v.case == value[info.tag]), None)
            if branch is not None:
                for member in self._fill(draw, self.schema.type(branch).members, depth):
                    value[member.name] = self._valid(draw, member.type, depth + 1)
        return value

    def _fill(self, draw: st.DrawFn, members: Sequence[Member], depth: int) -> Iterator[Member]:
        for member in members:
            if not member.optional or (depth < MAX_DEPTH and draw(st.integers(0, 3)) == 0):
                yield member

    # -- mutation sites ----------------------------------------------------

    def members_of(self, info: TypeInfo, value: dict[str, Any]) -> tuple[Member, ...]:
        """An object's members, with the variant members its tag selects."""
        members = info.members
        if info.tag:
            branch = next((v.type for v in info.variants if v.case == value.get(info.tag)), None)
            if branch is not None:
                members += self.schema.type(branch).members
        return members

    def _sites(self, type_name: str, value: Any, path: Path) -> Iterator[tuple[Path, str]]:
        """Every (path, type) in value the schema describes, outermost first."""
        yield path, type_name
        info = self.schema.type(type_name)
        if info.meta == "alternate":
            branch = next((v.type for v in info.variants if self._fits(v.type, value)), None)
            if branch is not None and self.schema.type(branch).meta in ("object", "array"):
                yield from self._sites(branch, value, path)
        elif info.meta == "array" and isinstance(value, list):
            for index, item in enumerate(value):
                yield from self._sites(info.element, item, (*path, index))
        elif info.meta == "object" and isinstance(value, dict):
            for member in self.members_of(info, value):
                if member.name in value:
                    yield from self._sites(member.type, value[member.name], (*path, member.name))

    def _fits(self, type_name: str, value: Any) -> bool:
        return _kind(value) in json_kinds(self.schema, type_name)

    # -- mutations ---------------------------------------------------------

    def _mutate(self, draw: st.DrawFn, root: dict[str, Any], site: tuple[Path, str]) -> str:
        """Break root at site (in place); return what was done ("" if the site is gone)."""
        path, type_name = site
        parent, key = _locate(root, path)
        if parent is None:
            return ""
        current = root if key is None else parent[key]
        info = self.schema.type(type_name)
        choices = ["wrong-type"] if path else []
        if info.meta == "object" and isinstance(current, dict):
            choices += ["unexpected", "missing"]
        choices += {"enum": ["bad-enum"], "alternate": ["wrong-alternate"], "array": ["bad-element"]}.get(
            info.meta, []
        )
        if info.json_type == "int":
            choices.append("int-range")
        kind = draw(st.sampled_from(choices))
        new = self._broken(draw, kind, info, current)
        if new is _UNCHANGED:
            return ""
        if key is None:
            root.clear()
            root.update(new)
        else:
            parent[key] = new
        return f"{kind}@{_render(path)}"

    def _broken(self, draw: st.DrawFn, kind: str, info: TypeInfo, current: Any) -> Any:
        if kind == "unexpected":
            known = {m.name for m in self.members_of(info, current)}
            extra = draw(BAD_KEYS.filter(lambda k: k not in known))
            return {**current, extra: copy.deepcopy(draw(st.sampled_from(list(SAMPLES.values()))))}
        if kind == "missing":
            present = [m.name for m in self.members_of(info, current) if not m.optional and m.name in current]
            if not present:
                return _UNCHANGED
            gone = draw(st.sampled_from(present))
            return {k: v for k, v in current.items() if k != gone}
        if kind == "bad-enum":
            return draw(STRINGS.filter(lambda s: s not in info.values))
        if kind == "int-range":
            return draw(st.sampled_from(OUT_OF_RANGE))
        if kind == "bad-element":
            wrong = self._wrong_value(draw, info.element)
            if wrong is _UNCHANGED:
                return _UNCHANGED
            items = list(current) if isinstance(current, list) else []
            items.insert(draw(st.integers(0, len(items))), wrong)
            return items
        return self._wrong_value(draw, info.name)  # wrong-type, wrong-alternate

    def _wrong_value(self, draw: st.DrawFn, type_name: str) -> Any:
        wrong = sorted(set(SAMPLES) - json_kinds(self.schema, type_name))
        if not wrong:
            return _UNCHANGED  # 'any' takes everything
        return copy.deepcopy(SAMPLES[draw(st.sampled_from(wrong))])


def argument_objects(schema: Schema, command: str, *, valid: bool | None = None) -> st.SearchStrategy[Any]:
    """Just the argument objects (JSON-ready dicts) for command."""
    return ArgumentGenerator(schema).arguments(command, valid=valid).map(lambda g: g.arguments)


_UNCHANGED: Any = object()


@st.composite
def _generated(draw: st.DrawFn, generator: ArgumentGenerator, command: str, valid: bool | None) -> Generated:
    # Module level: decorating is the costly part, calling it is cheap.
    return generator.draw(draw, command, valid)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "object" if isinstance(value, dict) else "array"


def _locate(root: Any, path: Path) -> tuple[Any, str | int | None]:
    """(container, key) of path in root; (root, None) for the root; (None, None) if gone."""
    if not path:
        return root, None
    node = root
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None, None
    last = path[-1]
    ok = (isinstance(node, dict) and last in node) or (
        isinstance(node, list) and isinstance(last, int) and last < len(node)
    )
    return (node, last) if ok else (None, None)


def _render(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".") or "."


# -- what to send ---------------------------------------------------------

SEND, ABSTAIN, WITHHOLD = "send", "abstain", "withhold"


@dataclass(frozen=True)
class Verdict:
    action: str  # SEND | ABSTAIN | WITHHOLD
    reason: str = ""


def verdict(schema: Schema, profile: Profile, generated: Generated) -> Verdict:
    """Whether generated arguments may go to a real binary, and whether the oracle predicts them."""
    command = generated.command
    if command in profile.unvisited_commands:
        return Verdict(ABSTAIN, f"{command}: its handler reads the raw arguments ('gen': false)")
    arguments = to_qobject(generated.arguments)
    assert isinstance(arguments, QDict)
    try:
        InputVisitor(schema, profile).check_arguments(schema.commands[command].arg_type, arguments)
    except VisitError:
        return Verdict(SEND)  # rejected before the command runs
    except VisitAbstains as why:
        return Verdict(ABSTAIN, why.reason)
    if not side_effect_free(command):
        return Verdict(WITHHOLD, "accepted arguments for a command that may act")
    if command not in HANDLERS:
        return Verdict(ABSTAIN, f"{command} is not modelled")
    return Verdict(SEND)


def request_case(requests: Sequence[Generated], first_id: int = 1, name: str = "schema-arguments") -> QmpCase:
    """One connection carrying every request, each a line of its own."""
    segments = tuple(
        (json.dumps(g.request(first_id + i)) + "\n").encode("utf-8") for i, g in enumerate(requests)
    )
    return QmpCase(
        id=name,
        description="arguments generated from the schema",
        group="schema-arguments",
        source="conformance.generate",
        segments=segments,
    )


# -- coverage -------------------------------------------------------------


@dataclass
class CommandCoverage:
    generated: int = 0
    sent: int = 0
    agreed: int = 0
    abstained: int = 0
    withheld: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def reached(self) -> bool:
        """Some case ran on the implementation, or the oracle honestly abstained."""
        return self.sent > 0 or self.abstained > 0

    def add(self, other: dict[str, Any]) -> None:
        for name in ("generated", "sent", "agreed", "abstained", "withheld"):
            setattr(self, name, getattr(self, name) + other.get(name, 0))
        for reason, count in other.get("reasons", {}).items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count


def abstain_kind(reason: str) -> str:
    """A reason without its specifics, for counting."""
    if "C type is masked" in reason:
        return "integer type masked"
    if reason.startswith("alternate"):
        return "alternate type masked"
    if "not modelled" in reason:
        return "command not modelled"
    return reason.split(":", 1)[-1].strip()
