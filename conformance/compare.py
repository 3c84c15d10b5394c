"""Comparing what an implementation wrote with what was expected.

Lines are compared as ordered JSON (member order matters: QEMU's order is part
of its answer) with numbers kept as their literal text. A prediction without
wildcards must also match byte for byte, so escapes and spacing count too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reference.qmp.outputs import Message
from reference.qobject.json_writer import to_json
from reference.qobject.patterns import Wildcard
from reference.qobject.values import QDict, QNull, QObject

Judge = Callable[[Any, bytes], bool]


@dataclass(frozen=True)
class Num:
    text: str

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Obj:
    pairs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class RawLine:
    """An observed line that is not JSON."""

    text: str


def _obj(pairs: list[tuple[str, Any]]) -> Obj:
    return Obj(tuple(pairs))


def parse_line(line: bytes) -> Any:
    text = line.decode("utf-8", "replace")
    try:
        return json.loads(text, object_pairs_hook=_obj, parse_int=Num, parse_float=Num, parse_constant=Num)
    except json.JSONDecodeError:
        return RawLine(text)


def from_qobject(value: QObject) -> Any:
    if isinstance(value, QDict):
        return Obj(tuple((k, from_qobject(v)) for k, v in value.items()))
    if isinstance(value, list):
        return [from_qobject(v) for v in value]
    if isinstance(value, QNull):
        return None
    if isinstance(value, (bool, str, Wildcard)):
        return value
    return Num(to_json(value))


def from_fixture(value: Any) -> Any:
    """A fixture's JSON value (parsed keeping order) in comparable form."""
    if isinstance(value, dict):
        return Obj(tuple((k, from_fixture(v)) for k, v in value.items()))
    if isinstance(value, list):
        return [from_fixture(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return Num(json.dumps(value))


def has_wildcard(value: QObject) -> bool:
    # Iterative: QEMU accepts 1024 levels of nesting, past Python's recursion limit.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Wildcard):
            return True
        if isinstance(item, QDict):
            stack.extend(v for _, v in item.items())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def matches(expected: Any, observed: Any) -> bool:
    if isinstance(expected, Wildcard):
        if expected.kind == "int":
            if not (isinstance(observed, Num) and observed.text.lstrip("-").isdigit()):
                return False
            return not expected.values or int(observed.text) in expected.values
        if expected.kind == "object":
            return isinstance(observed, Obj)
        if expected.kind == "node-name":
            return (
                isinstance(observed, str)
                and re.fullmatch(rf"#block{expected.values[0]}[0-9]{{2}}", observed) is not None
            )
        return isinstance(observed, str)
    if isinstance(expected, Obj):
        return (
            isinstance(observed, Obj)
            and [k for k, _ in expected.pairs] == [k for k, _ in observed.pairs]
            and all(matches(e, o) for (_, e), (_, o) in zip(expected.pairs, observed.pairs, strict=True))
        )
    if isinstance(expected, list):
        return (
            isinstance(observed, list)
            and len(expected) == len(observed)
            and all(matches(e, o) for e, o in zip(expected, observed, strict=True))
        )
    return type(expected) is type(observed) and expected == observed


def qobject_matches_line(expected: QObject, line: bytes) -> bool:
    if not has_wildcard(expected):
        return line.rstrip(b"\n").rstrip(b"\r") == to_json(expected).encode("utf-8")
    return matches(from_qobject(expected), parse_line(line))


def first_difference(expected: Sequence[Any], observed: Sequence[bytes], describe: Any) -> str | None:
    """None if the lines agree, else a sentence about the first disagreement."""
    for index, line in enumerate(observed):
        if index >= len(expected):
            return f"line {index + 1}: unexpected extra line {line.decode('utf-8', 'replace').rstrip()}"
        if not describe(expected[index], line):
            return f"line {index + 1}: got {line.decode('utf-8', 'replace').rstrip()}"
    if len(observed) < len(expected):
        return f"line {len(observed) + 1}: missing (expected {len(expected)} lines, got {len(observed)})"
    return None


def transcript_matches(
    expected: Sequence[Message], observed: Sequence[bytes], movable_from: int, judge: Judge
) -> bool:
    """Whether the observed lines are the expected ones, allowing each out-of-band
    reply to move ahead of in-band replies from index `movable_from` on (never
    past another out-of-band reply, which QEMU answers in order)."""
    if len(expected) != len(observed):
        return False
    if not any(message.out_of_band for message in expected):
        return all(judge(message, line) for message, line in zip(expected, observed, strict=True))
    # Depth-first over which expected message each observed line is, with an explicit stack:
    # a fuzzed conversation can hold thousands of lines.
    stack: list[tuple[tuple[int, ...], int, int]] = [(tuple(range(len(expected))), 0, 0)]
    while stack:
        remaining, position, slot = stack.pop()
        if not remaining:
            return True
        if slot >= len(remaining):
            continue
        index = remaining[slot]
        message = expected[index]
        # Looking further means this message is overtaken: only in-band ones can be.
        if not (message.out_of_band or index < movable_from):
            stack.append((remaining, position, slot + 1))
        if (slot == 0 or message.out_of_band) and judge(message, observed[position]):
            stack.append((remaining[:slot] + remaining[slot + 1 :], position + 1, 0))
    return False
