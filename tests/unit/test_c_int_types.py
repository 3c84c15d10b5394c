"""Per C type verdicts and messages of the input visitor's integer rules (pinned by
tests/property/test_int_types_differential.py on qsd and qemu-system 7.2)."""

from __future__ import annotations

import pytest

from reference.profiles import get_profile
from reference.qapi.c_int_types import C_INT_TYPES, CIntError, convert
from reference.qapi.input_acceptance import Acceptance
from reference.qapi.input_visitor import InputVisitor, VisitAbstains, VisitError
from reference.qapi.introspection import Schema, load_schema
from reference.qobject.values import QDict, qnull

TYPE_ERROR = "Invalid parameter type for 'a.n', expected: integer"
UINT_ERROR = "Parameter 'a.n' expects uint64"


@pytest.mark.parametrize(
    ("ctype", "value", "expected"),
    [
        ("int8", 127, 127),
        ("int8", -128, -128),
        ("int8", 128, "Parameter 'n' expects int8_t"),
        ("int8", -129, "Parameter 'n' expects int8_t"),
        ("int8", 2**63, TYPE_ERROR),
        ("int16", 32768, "Parameter 'n' expects int16_t"),
        ("int32", 2**31 - 1, 2**31 - 1),
        ("int32", -(2**31) - 1, "Parameter 'n' expects int32_t"),
        ("int64", 2**63 - 1, 2**63 - 1),
        ("int64", -(2**63), -(2**63)),
        ("int64", 2**63, TYPE_ERROR),
        ("int64", 1.0, TYPE_ERROR),
        ("int64", "1", TYPE_ERROR),
        ("int64", True, TYPE_ERROR),
        ("uint8", 255, 255),
        ("uint8", 256, "Parameter 'n' expects uint8_t"),
        ("uint8", -1, "Parameter 'n' expects uint8_t"),  # -1 is read as 2**64 - 1 first
        ("uint16", 65536, "Parameter 'n' expects uint16_t"),
        ("uint32", 2**32 - 1, 2**32 - 1),
        ("uint32", 2**32, "Parameter 'n' expects uint32_t"),
        ("uint32", 1.5, UINT_ERROR),
        ("uint64", -1, 2**64 - 1),
        ("uint64", -(2**63), 2**63),
        ("uint64", 2**64 - 1, 2**64 - 1),
        ("uint64", 2.0**64, UINT_ERROR),
        ("uint64", "x", UINT_ERROR),
        ("uint64", qnull, UINT_ERROR),
    ],
)
def test_convert(ctype: str, value: object, expected: int | str) -> None:
    c_type = C_INT_TYPES[ctype]
    if isinstance(expected, int):
        assert convert(c_type, value, "a.n", "n") == expected  # type: ignore[arg-type]
        assert c_type.accepts(value)  # type: ignore[arg-type]
    else:
        with pytest.raises(CIntError) as caught:
            convert(c_type, value, "a.n", "n")  # type: ignore[arg-type]
        assert caught.value.message == expected
        assert not c_type.accepts(value)  # type: ignore[arg-type]


def _schema(table: dict[str, dict[str, str]]) -> Schema:
    schema = load_schema(
        [
            {"name": "int", "meta-type": "builtin", "json-type": "int"},
            {"name": "str", "meta-type": "builtin", "json-type": "string"},
            {"name": "E", "meta-type": "enum", "values": ["a", "b"]},
            {
                "name": "U",
                "meta-type": "object",
                "tag": "kind",
                "members": [{"name": "kind", "type": "E"}, {"name": "n", "type": "int"}],
                "variants": [{"case": "a", "type": "A"}, {"case": "b", "type": "B"}],
            },
            {"name": "A", "meta-type": "object", "members": [{"name": "m", "type": "int"}]},
            {"name": "B", "meta-type": "object", "members": [{"name": "m", "type": "int"}]},
        ]
    )
    schema.int_types = table
    return schema


def _verdict(schema: Schema, value: QDict) -> str | frozenset[str]:
    try:
        InputVisitor(schema, get_profile("7.2")).check_arguments("U", value)
    except VisitAbstains:
        return "abstains"
    except VisitError as err:
        return err.messages
    return "accepts"


def test_table_entries_by_declaring_type() -> None:
    schema = _schema({"U": {"n": "uint8"}, "A": {"m": "int16"}})
    assert _verdict(schema, QDict({"kind": "a", "n": 255, "m": -32768})) == "accepts"
    assert _verdict(schema, QDict({"kind": "a", "n": 256})) == frozenset({"Parameter 'n' expects uint8_t"})
    wide = QDict({"kind": "a", "n": 0, "m": 2**15})
    assert _verdict(schema, wide) == frozenset({"Parameter 'm' expects int16_t"})
    # B.m has no entry: still masked.
    assert _verdict(schema, QDict({"kind": "b", "n": 0, "m": 2**15})) == "abstains"
    assert Acceptance(schema).accepts("U", QDict({"kind": "a", "n": 200, "m": -5}))
    assert not Acceptance(schema).accepts("U", QDict({"kind": "b", "n": 0, "m": -5}))


def test_no_table_still_abstains() -> None:
    assert _verdict(_schema({}), QDict({"kind": "a", "n": 128})) == "abstains"
