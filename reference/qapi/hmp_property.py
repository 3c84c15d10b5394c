"""What QEMU 7.2's HMP prints when it sets a property from text with the string input visitor.

`qom-set PATH PROP VALUE` (object_property_parse) and `migrate_set_parameter
NAME VALUE` read VALUE with the string input visitor. The monitor prints
"Error: MESSAGE" and any hint lines, warnings as "warning: ..." before that,
and nothing when the value is taken. Each Target is one property whose C type
is known, with the check its setter makes after the visit (a fixed message, so
a visit that succeeded is seen even when the setter then refuses) and how to
read the value back (qom-get, or query-migrate-parameters).

Targets exist on `-M none` with the objects in SESSION_OBJECTS. A qom-set
VALUE is the rest of the line after leading blanks; a migrate_set_parameter
VALUE is one word, so it may hold no blank and no quote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from reference.profiles import Profile
from reference.qapi import string_input_visitor as siv

SESSION_OBJECTS = (
    "-object", "iothread,id=io0",
    "-object", "memory-backend-ram,id=m0,size=1M",
    "-object", "sev-guest,id=sev0,cbitpos=47,reduced-phys-bits=1",
)  # fmt: skip
MAX_NODES = 128  # host-nodes beyond this are refused after the visit
HOST_MEM_POLICIES = ("default", "preferred", "bind", "interleave")
BLANKS = " \t\n\v\f\r"

Json = int | bool | str | list[int]


class Abstain(Exception):
    pass


@dataclass(frozen=True)
class Target:
    name: str
    command: str  # the HMP command without its value
    kind: str  # int8..uint64 | int64-list-free kinds: "bool", "str", "size", "enum", "uint16-list"
    readback: tuple[str, str]  # ("qom", "PATH PROP") or ("migrate", "PARAM")
    check: Callable[[Json], str | None] = lambda value: None
    fresh_object: bool = False  # qom-set on a new memory backend (host-nodes only add bits)
    stored: Callable[[Json], Json] = lambda value: value  # what the setter keeps of the value

    @property
    def word_value(self) -> bool:
        return self.command.startswith("migrate_set_parameter")


def _poll_check(value: Json) -> str | None:
    assert isinstance(value, int)
    return "poll-max-ns value must be in range [0, 9223372036854775807]" if value < 0 else None


def _host_nodes_check(value: Json) -> str | None:
    assert isinstance(value, list)
    big = next((node for node in value if node >= MAX_NODES), None)
    return None if big is None else f"Invalid host-nodes value: {big}"


def _as_c_int(value: Json) -> Json:
    """machine's phandle_start is a C int: the int64 visited is truncated on store."""
    assert isinstance(value, int)
    return (value + 2**31) % 2**32 - 2**31


def _compress_check(value: Json) -> str | None:
    assert isinstance(value, int)
    return "Parameter 'compress_level' expects a value between 0 and 9" if value > 9 else None


def _qom(path: str, prop: str, kind: str, check: Callable[[Json], str | None] = lambda value: None) -> Target:
    return Target(prop, f"qom-set {path} {prop}", kind, ("qom", f"{path} {prop}"), check)


def _migrate(param: str, kind: str, check: Callable[[Json], str | None] = lambda value: None) -> Target:
    return Target(param, f"migrate_set_parameter {param}", kind, ("migrate", param), check)


TARGETS = {
    target.name: target
    for target in (
        _qom("/objects/io0", "poll-max-ns", "int64", _poll_check),
        replace(_qom("/machine", "phandle-start", "int64"), stored=_as_c_int),
        _qom("/objects/sev0", "cbitpos", "uint32"),
        _qom("/machine", "dump-guest-core", "bool"),
        _qom("/machine", "dt-compatible", "str"),
        _qom("/objects/m0", "policy", "enum"),
        Target(
            "host-nodes",
            "qom-set {object} host-nodes",
            "uint16-list",
            ("qom", "{object} host-nodes"),
            _host_nodes_check,
            fresh_object=True,
        ),
        _migrate("compress-level", "uint8", _compress_check),
        _migrate("max-postcopy-bandwidth", "size"),
    )
}


@dataclass(frozen=True)
class HmpOutcome:
    output: tuple[str, ...]  # the monitor's lines, without terminators
    value: Json | None  # what reads back after success; None after an error
    stage: str  # visit | after-visit | accepted


def _property_name(target: Target) -> str:
    return target.command.split()[-1]


def predict_hmp(target: Target, text: str, profile: Profile) -> HmpOutcome:
    """The HMP output for `target.command text`, and the value read back if it is taken."""
    if not text or text[0] in BLANKS:
        raise Abstain("the monitor skips leading blanks and needs a value")
    if target.word_value and any(c in BLANKS or c in "\"'" for c in text):
        raise Abstain("a migrate_set_parameter value is one unquoted word")
    name = _property_name(target)
    if target.command.startswith("migrate_set_parameter") and name in profile.removed_migrate_parameters:
        return HmpOutcome((f"Error: invalid parameter value: {name}",), None, "visit")
    warnings: list[str] = []
    try:
        value = _visit(target, name, text, profile, warnings)
    except siv.StringVisitError as err:
        if err.warning:
            warnings.append(f"warning: {err.warning}")
        output = (*warnings, f"Error: {err.message}", *err.hint.splitlines())
        return HmpOutcome(output, None, "visit")
    except siv.SizeAbstains as err:
        raise Abstain(str(err)) from None
    refusal = target.check(value)
    if refusal is not None:
        return HmpOutcome((*warnings, f"Error: {refusal}"), None, "after-visit")
    if isinstance(value, list):
        value = sorted(set(value))  # a bitmap reads back sorted, without repeats
    return HmpOutcome(tuple(warnings), target.stored(value), "accepted")


def _visit(target: Target, name: str, text: str, profile: Profile, warnings: list[str]) -> Json:
    kind = target.kind
    if kind == "bool":
        return siv.visit_bool(text, name)
    if kind == "str":
        return siv.visit_str(text, name)
    if kind == "enum":
        return siv.visit_enum(text, name, HOST_MEM_POLICIES, profile)
    if kind == "size":
        size = siv.visit_size(text, name, profile.size_dialect)
        if size.warning:
            warnings.append(f"warning: {size.warning}")
        return size.value
    if kind.endswith("-list"):
        return siv.visit_int_list(text, kind.removesuffix("-list"))
    return siv.visit_int(text, name, kind)
