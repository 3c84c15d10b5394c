"""QemuOpts parsing as QEMU 7.2's qemu_opts_parse_noisily() does it for `-numa`, `-netdev`, `-acpitable`.

"key=value" pairs split at single commas (",," is a literal comma in a value,
never in a key); the first pair may omit "key=" (the list's implied key); any
other pair without '=' is a flag: "x" is x=on, "nox" is x=off, each with a
deprecation warning. The first "id=..." names the options (it must be an
identifier) and every id pair is dropped from the list. The lists modelled
accept any key: checking them is the visitor's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ID_HINT = "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter."
HELP_WORDS = ("help", "?")


@dataclass(frozen=True)
class OptsParseError(Exception):
    message: str
    hint: str = ""


class OptsParseAbstains(Exception):
    """Help requests: QEMU prints the list's help text, not modelled."""


@dataclass(frozen=True)
class QemuOpts:
    pairs: tuple[tuple[str, str], ...]  # in command-line order, without id
    id: str | None = None
    warnings: tuple[str, ...] = field(default=())  # each a stderr line after the location prefix


def _value(text: str, pos: int) -> tuple[str, int]:
    """get_opt_value(): up to a single comma; ",," is one comma."""
    out = []
    while pos < len(text):
        if text[pos] == ",":
            if text.startswith(",,", pos):
                out.append(",")
                pos += 2
                continue
            break
        out.append(text[pos])
        pos += 1
    return "".join(out), pos


def _name_value(
    text: str, pos: int, implied: str | None, warnings: list[str] | None
) -> tuple[str, str, int, bool]:
    """get_opt_name_value(): (name, value, next position, is a help flag)."""
    stop = pos
    while stop < len(text) and text[stop] not in "=,":
        stop += 1
    is_help = False
    if stop < len(text) and text[stop] == "=":
        name = text[pos:stop]
        value, pos = _value(text, stop + 1)
    elif implied is not None:
        name = implied
        value, pos = _value(text, pos)
    else:
        name, pos = text[pos:stop], stop
        prefix = ""
        if name.startswith("no"):
            name, value, prefix = name[2:], "off", "no"
        else:
            value = "on"
            is_help = name in HELP_WORDS
        if not is_help and warnings is not None:
            warnings.append(f"warning: short-form boolean option '{prefix}{name}' deprecated")
            if name == "delay":
                warnings.append(f"Please use nodelay={'on' if prefix else 'off'} instead")
            else:
                warnings.append(f"Please use {name}={value} instead")
    if pos < len(text):
        pos += 1  # the separating comma
    return name, value, pos, is_help


def id_wellformed(text: str) -> bool:
    if not text or not (text[0].isascii() and text[0].isalpha()):
        return False
    return all(c.isascii() and (c.isalnum() or c in "-._") for c in text[1:])


def parse_opts(text: str, implied: str | None) -> QemuOpts:
    """qemu_opts_parse_noisily(list, text, permit_abbrev=true) for a list accepting any key."""
    opts_id = _first_id(text)
    if opts_id is not None and not id_wellformed(opts_id):
        raise OptsParseError("Parameter 'id' expects an identifier", ID_HINT)
    warnings: list[str] = []
    pairs: list[tuple[str, str]] = []
    pos, first = 0, implied
    while pos < len(text):
        name, value, pos, is_help = _name_value(text, pos, first, warnings)
        if is_help:
            raise OptsParseAbstains(f"{name!r} asks for help")
        first = None
        if name != "id":
            pairs.append((name, value))
    return QemuOpts(tuple(pairs), opts_id, tuple(warnings))


def _first_id(text: str) -> str | None:
    """opts_parse_id(): the first id pair, read with no implied key and no warnings."""
    pos = 0
    while pos < len(text):
        name, value, pos, _ = _name_value(text, pos, None, None)
        if name == "id":
            return value
    return None
