"""What qemu-storage-daemon 7.2 does with one `--blockdev KEYVAL` argument.

qsd parses the argument with the keyval parser (implied key "driver"), checks
it with the keyval input visitor against BlockdevOptions, then opens the node
(blockdev-add); the first error ends the process with status 1 and one line
on stderr, "qemu-storage-daemon: --blockdev ARG: MESSAGE". If everything
succeeds the daemon keeps running.

The open stage is modelled only for the null-co and null-aio drivers (they
touch no files); for any other driver an argument the parser and visitor
accept is not predicted (Abstain).
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.profiles import Profile
from reference.qapi.introspection import Schema
from reference.qapi.keyval import KeyvalError, parse_no_help
from reference.qapi.keyval_visitor import KeyvalVisitor, VisitAbstains, VisitError, parse_int
from reference.qobject.values import QDict

PROGRAM = "qemu-storage-daemon"
IMPLIED_KEY = "driver"
NULL_DRIVERS = ("null-co", "null-aio")

# C types of BlockdevOptionsNull's integers, verified on the binary: size=1k and
# size=2^63 say "expects integer" (int64, not size); latency-ns=-1 passes (uint64).
NULL_INT_KINDS: dict[tuple[str, ...], str] = {
    **{(driver, "size"): "int64" for driver in NULL_DRIVERS},
    **{(driver, "latency-ns"): "uint64" for driver in NULL_DRIVERS},
}
NODE_NAME_MAX = 31
# null-co sizes above this fail ("Could not refresh total sector count: File too large")
# somewhere below 2^63; not modelled.
NULL_SIZE_MODELLED = 2**62
TRUE_WORDS = frozenset({"on", "yes", "true", "y"})


@dataclass(frozen=True)
class Outcome:
    """accepted, or the stderr line qsd may print (several when hash order decides)."""

    accepted: bool
    lines: frozenset[str] = frozenset()
    stage: str = ""  # parser | visitor | open


class Abstain(Exception):
    pass


def error_line(argument: str, message: str) -> str:
    return f"{PROGRAM}: --blockdev {argument}: {message}"


def predict(argument: str, schema: Schema, profile: Profile) -> Outcome:
    """Predict qsd's answer to `--blockdev argument`; raise Abstain where not modelled."""
    if argument.startswith("{"):
        raise Abstain("a '{' argument is JSON, checked by the strict visitor")
    try:
        tree = parse_no_help(argument, IMPLIED_KEY)
    except KeyvalError as err:
        return Outcome(False, frozenset({error_line(argument, err.message)}), "parser")
    visitor = KeyvalVisitor(schema, profile, NULL_INT_KINDS)
    try:
        visitor.check(schema.commands["blockdev-add"].arg_type, tree)
    except VisitError as err:
        return Outcome(False, frozenset(error_line(argument, m) for m in err.messages), "visitor")
    except VisitAbstains as err:
        raise Abstain(err.reason) from None
    message = open_error(tree)
    if message is None:
        return Outcome(True, stage="open")
    return Outcome(False, frozenset({error_line(argument, message)}), "open")


def open_error(tree: QDict) -> str | None:
    """blockdev-add of a visited null-co/null-aio tree: its error, or None when the node opens."""
    driver = tree.get("driver")
    if driver not in NULL_DRIVERS:
        raise Abstain(f"opening a {driver} node is not modelled")
    node_name = tree.get("node-name")
    if node_name is None:
        return "'node-name' must be specified for the root node"
    assert isinstance(node_name, str)
    if _true(tree, "force-share") and not _true(tree, "read-only"):
        return "force-share=on can only be used with read-only images"
    if tree.get("detect-zeroes") == "unmap" and tree.get("discard") != "unmap":
        return "setting detect-zeroes to unmap is not allowed without setting discard operation to unmap"
    if not _node_name_wellformed(node_name):
        return f"Invalid node-name: '{node_name}'"
    if len(node_name) > NODE_NAME_MAX:
        return "Node name too long"
    size = _int_member(tree, "size", "int64")
    if size is not None and not 0 <= size <= NULL_SIZE_MODELLED:
        # Negative sizes make 7.2 abort (error_abort in null-co's option parsing).
        raise Abstain(f"null-co size {size} is not modelled")
    latency = _int_member(tree, "latency-ns", "uint64")
    if latency is not None and latency >= 2**63:
        return "latency-ns is invalid"  # read back as int64: negative
    return None


def _true(tree: QDict, key: str) -> bool:
    return tree.get(key) in TRUE_WORDS


def _int_member(tree: QDict, key: str, kind: str) -> int | None:
    text = tree.get(key)
    if text is None:
        return None
    assert isinstance(text, str)
    value = parse_int(text, kind)
    assert value is not None, "the visitor accepted it"
    return value


def _node_name_wellformed(name: str) -> bool:
    # id_wellformed(): an ASCII letter, then letters, digits, '-', '.', '_'.
    if not name or not (name[0].isascii() and name[0].isalpha()):
        return False
    return all(c.isascii() and (c.isalnum() or c in "-._") for c in name[1:])
