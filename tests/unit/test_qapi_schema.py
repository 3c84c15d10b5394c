"""The QAPI schema frontend against the corpus in fixtures/qapi-schema (see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference.qapi.schema_build import compile_schema
from reference.qapi.schema_model import Command, ObjectType, Schema
from reference.qapi.schema_parser import folder_reader
from reference.qapi.schema_source import DIALECTS, Dialect, SchemaError
from reference.qapi.schema_summary import summarize

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "qapi-schema"


def _cases() -> list[tuple[Dialect, str]]:
    return [(d, p.stem) for d in DIALECTS for p in sorted((CORPUS / d).glob("*.json"))]


def _run(dialect: Dialect, name: str) -> tuple[str, str]:
    """('err', stderr text) or ('out', summary text)."""
    try:
        schema = compile_schema(f"{name}.json", folder_reader(CORPUS / dialect), dialect)
    except SchemaError as err:
        return "err", f"{err}\n"
    lines = summarize(schema)
    return "out", "".join(f"{line}\n" for line in lines)


@pytest.mark.parametrize(("dialect", "name"), _cases(), ids=[f"{d}/{n}" for d, n in _cases()])
def test_corpus_case(dialect: Dialect, name: str) -> None:
    folder = CORPUS / dialect
    expected = [ext for ext in ("err", "out") if (folder / f"{name}.{ext}").exists()]
    assert len(expected) == 1, f"{name} needs exactly one of .err / .out"
    kind, text = _run(dialect, name)
    assert kind == expected[0], text
    assert text == (folder / f"{name}.{kind}").read_text(encoding="utf-8")
    # Accepted schemas are named good-*, rejected ones are not.
    assert (kind == "out") == name.startswith("good-")


def test_corpus_is_big_enough() -> None:
    per_dialect = {d: len(list((CORPUS / d).glob("*.err"))) for d in DIALECTS}
    assert per_dialect["7.2"] >= 80
    assert per_dialect["3.1"] >= 30


def test_every_corpus_expectation_has_a_schema() -> None:
    for dialect in DIALECTS:
        for path in (CORPUS / dialect).glob("*.*"):
            if path.suffix in (".err", ".out"):
                assert path.with_suffix(".json").exists(), path


def _compile(files: dict[str, str], dialect: Dialect = "7.2") -> Schema:
    def read(path: str) -> str:
        try:
            return files[path]
        except KeyError:
            raise FileNotFoundError(2, "No such file or directory", path) from None

    return compile_schema("main.json", read, dialect)


def test_model_from_memory() -> None:
    text = "{ 'struct': 'Foo', 'data': { '*a': ['int'] } }\n{ 'command': 'get', 'returns': 'Foo' }\n"
    schema = _compile({"main.json": text})
    foo = schema.by_name["Foo"]
    assert isinstance(foo, ObjectType)
    assert [(m.name, m.type, m.optional) for m in foo.members] == [("a", "intList", True)]
    get = schema.by_name["get"]
    assert isinstance(get, Command) and get.ret_type == "Foo"


def test_error_carries_location() -> None:
    with pytest.raises(SchemaError) as caught:
        _compile(
            {"main.json": "{ 'include': 'sub.json' }\n", "sub.json": "\n{ 'enum': 'Foo', 'data': ['A'] }\n"}
        )
    err = caught.value
    assert (err.info.fname, err.info.line, err.info.defn_name) == ("sub.json", 2, "Foo")
    assert err.message == "name of 'data' member 'A' must not use uppercase or '_'"
    assert str(err).startswith("In file included from main.json:1:\nsub.json: In enum 'Foo':\n")


def test_dialects_disagree_on_simple_unions() -> None:
    files = {"main.json": "{ 'union': 'Foo', 'data': { 'a': 'int' } }\n"}
    assert "Foo" in _compile(files, "3.1").by_name
    with pytest.raises(SchemaError, match="union misses keys 'base', 'discriminator'"):
        _compile(files, "7.2")
