"""QEMU 7.2's KEY=VALUE,... parser (the one behind --blockdev, --object, -M, ...).

The result is a tree of QDicts, lists and strings: every leaf is a string,
dotted keys build nested QDicts, and a QDict whose keys are all decimal
numbers becomes a list. QEMU checks the tree in QDict (hash) order, which
decides which of several errors is reported, so the tree is built in QDicts.

Errors carry QEMU's exact wording. The parse stops at the first error.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.qobject.values import QDict, QObject

INT_MAX = 2**31 - 1
# A key fragment is copied into a 128-byte buffer with its terminating NUL.
MAX_FRAGMENT = 127
HELP_REQUESTS = ("help", "?")
NO_HELP = "Help is not available for this option"


@dataclass(frozen=True)
class KeyvalError(Exception):
    message: str


@dataclass(frozen=True)
class Parsed:
    tree: QDict
    help: bool  # a bare "help" or "?" appeared


def _is_alpha(char: str) -> bool:
    # qemu_isalpha() in the C locale: ASCII only.
    return char.isascii() and char.isalpha()


def _is_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


def qapi_name_length(text: str, start: int) -> int:
    """Length of the QAPI name at text[start:], or 0 when there is none.

    A name may carry a downstream prefix "__RFQDN_" whose RFQDN may contain
    dots; the scan does not stop at the key's end, only at a non-name byte.
    """
    pos = start
    if text[pos : pos + 1] == "_":
        pos += 1
        if text[pos : pos + 1] != "_":
            return 0
        pos += 1
        while pos < len(text) and (_is_alnum(text[pos]) or text[pos] in "-."):
            pos += 1
        if text[pos : pos + 1] != "_":
            return 0
        pos += 1
    if pos >= len(text) or not _is_alpha(text[pos]):
        return 0
    pos += 1
    while pos < len(text) and (_is_alnum(text[pos]) or text[pos] in "-_"):
        pos += 1
    return pos - start


def _digits_length(text: str, start: int) -> int:
    pos = start
    while pos < len(text) and text[pos] in "0123456789":
        pos += 1
    return pos - start


def list_index(key: str) -> int | None:
    """The list index a whole key denotes (all digits; capped at INT_MAX), else None."""
    if not key or _digits_length(key, 0) != len(key):
        return None
    return min(int(key), INT_MAX)


def _put(cur: QDict, name: str, value: str | None, shown_key: str) -> QDict | None:
    """Make cur[name] a nested QDict (value None) or the string value.

    A QDict where a string was (or the reverse) is QEMU's "used inconsistently";
    a string replaces an earlier string in place (last one wins).
    """
    old = cur.get(name)
    if old is not None and isinstance(old, QDict) != (value is None):
        raise KeyvalError(f"Parameters '{shown_key}.*' used inconsistently")
    if value is not None:
        cur.put(name, value)
        return None
    if isinstance(old, QDict):
        return old
    fresh = QDict()
    cur.put(name, fresh)
    return fresh


def _parse_key(root: QDict, key: str, key_end: int) -> tuple[QDict, str, int]:
    """Walk the dotted key text[0:key_end] (key is the whole remaining input).

    Returns the QDict the last fragment belongs in, that fragment, and where
    the key stopped.
    """
    cur = root
    pos = 0
    pending: str | None = None
    while True:
        digits = _digits_length(key, pos) if pos else 0
        length = digits if digits else qapi_name_length(key, pos)
        if not length or (pos + length < key_end and key[pos + length] != "."):
            raise KeyvalError(f"Invalid parameter '{key[:key_end]}'")
        if length > MAX_FRAGMENT:
            whole = pos == 0 and pos + length == key_end
            kind = "Parameter" if whole else "Parameter fragment"
            raise KeyvalError(f"{kind} '{key[pos : pos + length]}' is too long")
        if pending is not None:
            nested = _put(cur, pending, None, key[: pos - 1])
            assert nested is not None
            cur = nested
        pending = key[pos : pos + length]
        pos += length
        if key[pos : pos + 1] != ".":
            return cur, pending, pos
        pos += 1


def _parse_value(text: str, pos: int) -> tuple[str, int]:
    """Read a value up to a lone comma; ",," stands for one comma."""
    out: list[str] = []
    while pos < len(text):
        char = text[pos]
        if char == ",":
            pos += 1
            if text[pos : pos + 1] != ",":
                break
        out.append(text[pos])
        pos += 1
    return "".join(out), pos


def _parse_one(root: QDict, text: str, implied_key: str | None) -> tuple[str, bool]:
    """Parse one parameter at the start of text; return the rest and whether it asked for help."""
    length = next((i for i, c in enumerate(text) if c in "=,"), len(text))
    if length and text[length : length + 1] != "=":
        if text[:length] in HELP_REQUESTS:
            rest = text[length:]
            return rest[1:] if rest.startswith(",") else rest, True
        if implied_key is not None:
            # The implied key's value runs to the first comma; no ",," escapes.
            cur, name, _ = _parse_key(root, implied_key, len(implied_key))
            _put(cur, name, text[:length], implied_key)
            rest = text[length:]
            return rest[1:] if rest.startswith(",") else rest, False
    cur, name, pos = _parse_key(root, text, length)
    if text[pos : pos + 1] != "=":
        raise KeyvalError(f"Expected '=' after parameter '{text[:pos]}'")
    value, pos = _parse_value(text, pos + 1)
    _put(cur, name, value, text[:length])
    return text[pos:], False


def _listify(cur: QDict, prefix: str) -> QObject:
    """Turn QDicts whose keys are all indexes into lists, children first, in QDict order."""
    has_index = has_member = False
    for key, value in cur.items():
        if list_index(key) is None:
            has_member = True
        else:
            has_index = True
        if isinstance(value, QDict):
            converted = _listify(value, f"{prefix}{key}.")
            if converted is not value:
                cur.put(key, converted)
    if has_index and has_member:
        raise KeyvalError(f"Parameters '{prefix}*' used inconsistently")
    if not has_index:
        return cur
    # Slots 0..len-1; "1" and "01" name the same slot (the later one in QDict order
    # wins), and an index past the slots leaves a hole the scan below reports.
    slots: list[QObject | None] = [None] * len(cur)
    top = -1
    for key, value in cur.items():
        index = list_index(key)
        assert index is not None
        top = max(top, index)
        if index < len(slots):
            slots[index] = value
    items: list[QObject] = []
    for i in range(min(len(slots), top + 1)):
        item = slots[i]
        if item is None:
            raise KeyvalError(f"Parameter '{prefix}{i}' missing")
        items.append(item)
    return items


def _parse_all(params: str, implied_key: str | None) -> tuple[QDict, bool]:
    root = QDict()
    rest = params
    wants_help = False
    while rest:
        rest, asked = _parse_one(root, rest, implied_key)
        wants_help = wants_help or asked
        implied_key = None  # only the first parameter may omit its key
    return root, wants_help


def _listify_root(root: QDict) -> QDict:
    result = _listify(root, "")
    assert result is root  # top-level keys are names, never indexes
    return root


def parse(params: str, implied_key: str | None = None) -> Parsed:
    """keyval_parse() with a help pointer: a bare "help" or "?" is reported, not stored."""
    root, wants_help = _parse_all(params, implied_key)
    return Parsed(_listify_root(root), wants_help)


def parse_no_help(params: str, implied_key: str | None = None) -> QDict:
    """keyval_parse() without a help pointer (qobject_input_visitor_new_str, so --blockdev).

    A help request fails after every parameter parsed and before the list check.
    """
    root, wants_help = _parse_all(params, implied_key)
    if wants_help:
        raise KeyvalError(NO_HELP)
    return _listify_root(root)
