"""Fuzz target: text into the oracle's `qemu-storage-daemon --blockdev TEXT` prediction.

For every input the prediction must be an outcome or an honest abstention,
never an exception; every error line must carry qsd's prefix for that exact
argument and a message; and a tree the keyval parser accepts must survive a round trip
through its KEY=VALUE form.

    python -m fuzz.keyval_blockdev [libFuzzer options] [CORPUS_DIR ...]
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

if __name__ == "__main__":
    import atheris

    with atheris.instrument_imports(include=["reference"]):
        import reference.qapi.blockdev_option  # noqa: F401

from reference.profiles import get_profile
from reference.qapi.blockdev_option import IMPLIED_KEY, Abstain, Outcome, error_line, predict
from reference.qapi.introspection import Schema
from reference.qapi.keyval import KeyvalError, parse_no_help
from reference.qobject.values import QDict, QObject

SNAPSHOT = Path(__file__).resolve().parent.parent / "fixtures" / "introspection" / "qsd-7.2.json"


class Violation(AssertionError):
    """The oracle answered in a way QEMU never would."""


@cache
def schema() -> Schema:
    from conformance.snapshots import model_from_file

    return model_from_file(SNAPSHOT, get_profile("7.2"), exact_identity=True).schema


def keyval_text(tree: QDict) -> str:
    """The tree as KEY=VALUE pairs (commas doubled), in the tree's own order."""
    pairs: list[str] = []

    def walk(prefix: str, value: QObject) -> None:
        if isinstance(value, QDict):
            for key, item in value.items():
                walk(f"{prefix}{key}.", item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(f"{prefix}{index}.", item)
        else:
            assert isinstance(value, str), "keyval leaves are strings"
            pairs.append(f"{prefix[:-1]}={value.replace(',', ',,')}")

    walk("", tree)
    return ",".join(pairs)


def check_round_trip(argument: str) -> None:
    try:
        tree = parse_no_help(argument, IMPLIED_KEY)
    except KeyvalError:
        return
    if not tree.keys():
        return  # an empty tree has no KEY=VALUE form
    again = parse_no_help(keyval_text(tree), None)
    if again != tree:
        raise Violation(f"keyval tree does not round-trip: {argument!r} -> {keyval_text(tree)!r}")


def one_input(argument: str) -> Outcome | None:
    try:
        outcome = predict(argument, schema(), get_profile("7.2"))
    except Abstain:
        return None
    prefix = error_line(argument, "")
    for line in outcome.lines:
        # Argument and message may both hold newlines (a key is echoed as given): check the prefix.
        if not line.startswith(prefix) or len(line) == len(prefix):
            raise Violation(f"malformed error line {line!r}")
    if outcome.accepted == bool(outcome.lines):
        raise Violation(f"accepted={outcome.accepted} with lines {sorted(outcome.lines)}")
    check_round_trip(argument)
    return outcome


def main(argv: list[str]) -> None:
    import atheris

    schema()

    def test_one_input(data: bytes) -> None:
        # QEMU receives argv bytes; a NUL ends a C string there.
        one_input(data.decode("utf-8", "replace").split("\0", 1)[0])

    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
