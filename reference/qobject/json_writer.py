"""QEMU's JSON writer (qobject/json-writer.c in 7.2): QObjects to text.

Compact output separates members with ", " and names with ": ". Strings are
pure ASCII: besides the usual short escapes, every character below 0x20 or
from 0x7F up is \\uXXXX with uppercase hex, beyond the BMP as a surrogate
pair. Doubles print with "%.17g" (1.0 is 1, 0.1 is 0.10000000000000001, and
an infinity is a bare inf, which is not JSON). Before 6.0 QEMU printed them
with "%f" and dropped trailing zeros, then a trailing dot (1e-7 is 0, 1e17 is
100000000000000000): a FixedDouble is a double a reply of such a version
holds, and as_fixed_doubles() marks a reply's doubles so.

The writer is iterative: QEMU accepts 1024 levels of nesting, beyond
Python's default recursion limit.

Compact output below 100 levels, the common case, takes a recursive path
tuned for speed (the oracle writes a reply for every request it answers):
quoted strings and member names are remembered, common types are tested
first, and a FrozenQDict's text is kept for the next time it is written. Its
output is the iterative writer's, byte for byte.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from reference.qobject.patterns import Wildcard
from reference.qobject.values import FrozenQDict, QDict, QNull, QObject

_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile('[\\x00-\\x1f"\\\\\\x7f-\\U0010ffff]')
_escape_cache: dict[str, str] = {}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    cached = _escape_cache.get(char)
    if cached is not None:
        return cached
    cp = ord(char)
    if char in _SHORT:
        text = _SHORT[char]
    elif 0xD800 <= cp <= 0xDFFF:
        # A lone surrogate is invalid modified UTF-8: U+FFFD.
        text = "\\uFFFD"
    elif cp > 0xFFFF:
        cp -= 0x10000
        text = f"\\u{0xD800 + (cp >> 10):04X}\\u{0xDC00 + (cp & 0x3FF):04X}"
    else:
        text = f"\\u{cp:04X}"
    if len(_escape_cache) < 4096:
        _escape_cache[char] = text
    return text


_quoted: dict[str, str] = {}
_QUOTED_LIMIT = 8192


def quote(text: str) -> str:
    quoted = _quoted.get(text)
    if quoted is None:
        quoted = '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'
        if len(_quoted) >= _QUOTED_LIMIT:  # fuzzed strings must not grow it without bound
            _quoted.clear()
        _quoted[text] = quoted
    return quoted


def format_double(value: float) -> str:
    """C's "%.17g", including glibc's spelling of infinities and NaNs."""
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return f"{value:.17g}"


class FixedDouble(float):
    """A double that QEMU before 6.0 writes (its qnum_to_string used "%f")."""

    __slots__ = ()


def format_fixed(value: float) -> str:
    """C's "%f" less its trailing zeros, then less a trailing dot: 0.5, 0, -0, 0.007812, inf."""
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    text = f"{value:f}".rstrip("0")  # Python's "f" rounds exactly as glibc's printf does
    return text[:-1] if text.endswith(".") else text


def as_fixed_doubles(body: QDict) -> QDict:
    """`body` with every double in it a FixedDouble, changed in place (a reply is the
    oracle's own, and its id the parsed request's). Frozen answers (block node infos)
    hold no doubles and are left alone."""
    stack: list[QObject] = [body]
    while stack:  # iterative: an id may nest 1024 levels deep
        container = stack.pop()
        if type(container) is FrozenQDict:
            continue
        if isinstance(container, QDict):
            for key, value in list(container.unordered_items()):
                if type(value) is float:
                    container.put(key, FixedDouble(value))  # a replaced value keeps its place
                elif isinstance(value, QDict | list):
                    stack.append(value)
        elif isinstance(container, list):
            for index, value in enumerate(container):
                if type(value) is float:
                    container[index] = FixedDouble(value)
                elif isinstance(value, QDict | list):
                    stack.append(value)
    return body


def scalar(obj: QObject) -> str:
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return quote(obj)
    if isinstance(obj, int):
        return str(obj)
    if isinstance(obj, float):
        return format_fixed(obj) if type(obj) is FixedDouble else format_double(obj)
    if isinstance(obj, QNull):
        return "null"
    if isinstance(obj, Wildcard):
        # Only in predictions; shown as a placeholder, never sent.
        return repr(obj)
    raise TypeError(f"not a QObject: {obj!r}")


_Members = Iterator[tuple[str | None, QObject]]


def _members(obj: QDict | list[QObject]) -> _Members:
    if isinstance(obj, QDict):
        return iter(obj.items())
    return ((None, item) for item in obj)


class _TooDeep(Exception):
    pass


FAST_DEPTH = 100  # below this a compact value is written recursively, which is faster

# Each key order's members as (text before the value, key): '{"a": ', then ', "b": ' and so on.
_layouts: dict[tuple[str, ...], tuple[tuple[str, str], ...]] = {}


def _layout(order: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    layout = _layouts.get(order)
    if layout is None:
        layout = tuple((("{" if i == 0 else ", ") + quote(key) + ": ", key) for i, key in enumerate(order))
        if len(_layouts) >= _QUOTED_LIMIT:
            _layouts.clear()
        _layouts[order] = layout
    return layout


def _write_frozen(value: FrozenQDict, depth: int, out: list[str]) -> None:
    """A FrozenQDict's text, written once (compact text does not depend on depth)."""
    text = value.text
    if text is None:
        own: list[str] = []
        _write_dict(value, depth, own)  # too deep: _TooDeep leaves it unwritten
        text = value.text = "".join(own)
    out.append(text)


def _write_other(value: QObject, depth: int, out: list[str]) -> None:
    """Subclasses and the rarer kinds, by the iterative writer's isinstance() rules."""
    if type(value) is FrozenQDict:
        _write_frozen(value, depth + 1, out)
    elif isinstance(value, QDict):
        _write_dict(value, depth + 1, out)
    elif isinstance(value, list):
        _write_list(value, depth + 1, out)
    else:
        out.append(scalar(value))


def _write_dict(obj: QDict, depth: int, out: list[str]) -> None:
    if depth > FAST_DEPTH:
        raise _TooDeep
    order, values = obj.members()
    if not order:
        out.append("{}")
        return
    for prefix, key in _layouts.get(order) or _layout(order):
        out.append(prefix)
        value: Any = values[key]  # dispatched on exact type(), which mypy does not narrow
        kind = type(value)
        # The commonest kinds inline; _write_other() decides the rest as the iterative writer does.
        if kind is str:
            out.append(_quoted.get(value) or quote(value))
        elif kind is QDict:
            _write_dict(value, depth + 1, out)
        elif kind is list:
            _write_list(value, depth + 1, out)
        elif kind is int:
            out.append(str(value))
        elif kind is bool:
            out.append("true" if value else "false")
        else:
            _write_other(value, depth, out)
    out.append("}")


def _write_list(obj: list[Any], depth: int, out: list[str]) -> None:
    if depth > FAST_DEPTH:
        raise _TooDeep
    separator = "["
    for value in obj:
        kind = type(value)
        out.append(separator)
        separator = ", "
        if kind is str:
            out.append(_quoted.get(value) or quote(value))
        elif kind is QDict:
            _write_dict(value, depth + 1, out)
        elif kind is list:
            _write_list(value, depth + 1, out)
        elif kind is int:
            out.append(str(value))
        elif kind is bool:
            out.append("true" if value else "false")
        else:
            _write_other(value, depth, out)
    out.append("]" if separator == ", " else "[]")


def to_json(obj: QObject, pretty: bool = False) -> str:
    """QEMU's qobject_to_json() (pretty=False) or qobject_to_json_pretty()."""
    if not isinstance(obj, QDict | list):
        return scalar(obj)
    if not pretty:
        out: list[str] = []
        try:
            if type(obj) is FrozenQDict:
                _write_frozen(obj, 0, out)
            elif isinstance(obj, QDict):
                _write_dict(obj, 0, out)
            else:
                _write_list(obj, 0, out)
            return "".join(out)
        except _TooDeep:
            pass
    return write_iteratively(obj, pretty)


def write_iteratively(obj: QDict | list[QObject], pretty: bool) -> str:
    """The writer at any depth: the definition the recursive path must match."""
    parts: list[str] = []
    # Each open container: its closing bracket and its remaining members.
    stack: list[tuple[str, _Members]] = []
    first = True  # the next member is its container's first

    def newline() -> None:
        if pretty:
            parts.append("\n" + " " * (4 * len(stack)))

    value: QObject = obj
    name: str | None = None
    while True:
        # Write name and value, opening a container or writing a scalar.
        if stack:
            if not first:
                parts.append(",")
                parts.append("\n" + " " * (4 * len(stack)) if pretty else " ")
            else:
                newline()
            if name is not None:
                parts.append(quote(name))
                parts.append(": ")
        if isinstance(value, QDict | list):
            parts.append("{" if isinstance(value, QDict) else "[")
            stack.append(("}" if isinstance(value, QDict) else "]", _members(value)))
            first = True
        else:
            parts.append(scalar(value))
            first = False
        # Find the next member, closing the containers that are done.
        while stack:
            closer, members = stack[-1]
            member = next(members, None)
            if member is not None:
                name, value = member
                break
            stack.pop()
            newline()
            parts.append(closer)
            first = False
        else:
            return "".join(parts)
