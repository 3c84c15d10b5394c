"""Fuzz target: text into the oracle's QAPI schema front end, in both dialects.

A schema is either accepted or rejected with a SchemaError whose text has
QEMU's "file:line: message" shape (after any "In file included from" and
"In <meta> '<name>':" lines); any other exception is a bug in the oracle.

    python -m fuzz.qapi_schema [libFuzzer options] [CORPUS_DIR ...]
"""

from __future__ import annotations

import re
import sys

if __name__ == "__main__":
    import atheris

    with atheris.instrument_imports(include=["reference"]):
        import reference.qapi.schema_build  # noqa: F401

from reference.qapi.schema_build import compile_schema
from reference.qapi.schema_source import DIALECTS, SchemaError

MAIN = "fuzz.json"
_LAST_LINE = re.compile(r"^[^:\n]+:\d+(:\d+)?: \S")
_CONTEXT_LINE = re.compile(r"^(In file included from [^:\n]+:\d+:|[^:\n]+: In [a-z]+ '[^'\n]*':)$")


class Violation(AssertionError):
    """The oracle answered in a way QEMU's generator never would."""


def check_error(text: str) -> None:
    lines = text.split("\n")
    first_message = next((i for i, line in enumerate(lines) if _LAST_LINE.match(line)), None)
    if first_message is None:
        raise Violation(f"no 'file:line: message' line in {text!r}")
    for line in lines[:first_message]:
        if not _CONTEXT_LINE.match(line):
            raise Violation(f"unexpected context line {line!r} in {text!r}")


def one_input(source: str) -> None:
    def read(path: str) -> str:
        if path == MAIN:
            return source
        raise FileNotFoundError(2, "No such file or directory", path)

    for dialect in DIALECTS:
        try:
            compile_schema(MAIN, read, dialect)
        except SchemaError as err:
            check_error(str(err))


def main(argv: list[str]) -> None:
    import atheris

    def test_one_input(data: bytes) -> None:
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            return  # QEMU's generator reads schemas as UTF-8 and dies on anything else
        one_input(source)

    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
