"""The clone and dealloc visitors' special cases, on a small hand-written schema."""

from __future__ import annotations

import pytest

from reference.profiles import get_profile
from reference.qapi.clone_visitor import CloneAbort, qapi_clone, qapi_clone_members
from reference.qapi.dealloc_visitor import DeallocAbort, qapi_free
from reference.qapi.input_visitor import InputVisitor, VisitError
from reference.qapi.introspection import load_schema
from reference.qapi.output_visitor import output_visit
from reference.qapi.qapi_values import Alternate, AnyValue, Struct, containers
from reference.qobject.values import QDict, qnull

SCHEMA = load_schema(
    [
        {"name": "str", "meta-type": "builtin", "json-type": "string"},
        {"name": "int", "meta-type": "builtin", "json-type": "int"},
        {"name": "number", "meta-type": "builtin", "json-type": "number"},
        {"name": "null", "meta-type": "builtin", "json-type": "null"},
        {"name": "any", "meta-type": "builtin", "json-type": "value"},
        {"name": "[Inner]", "meta-type": "array", "element-type": "Inner"},
        {"name": "Kind", "meta-type": "enum", "values": ["a", "b"]},
        {"name": "Inner", "meta-type": "object", "members": [{"name": "s", "type": "str"}]},
        {"name": "Alt", "meta-type": "alternate", "members": [{"type": "Inner"}, {"type": "str"}]},
        {"name": "BranchA", "meta-type": "object", "members": [{"name": "list", "type": "[Inner]"}]},
        {
            "name": "Top",
            "meta-type": "object",
            "members": [
                {"name": "kind", "type": "Kind"},
                {"name": "alt", "type": "Alt", "default": None},
                {"name": "n", "type": "number", "default": None},
                {"name": "nothing", "type": "null", "default": None},
                {"name": "blob", "type": "any", "default": None},
            ],
            "tag": "kind",
            "variants": [{"case": "a", "type": "BranchA"}],
        },
    ]
)
VISITOR = InputVisitor(SCHEMA, get_profile("7.2"))


def test_a_null_string_clones_to_empty_and_null_to_the_singleton() -> None:
    source = Struct(
        "Top", {"kind": "b", "alt": Alternate("Alt", "QTYPE_QDICT", Struct("Inner", {"s": None}))}
    )
    source.members["nothing"] = qnull
    copy = qapi_clone(SCHEMA, "Top", source)
    assert copy.members["alt"].value.members["s"] == ""
    assert copy.members["nothing"] is qnull


def test_clone_refuses_bare_scalars_and_any() -> None:
    with pytest.raises(CloneAbort, match="inside a struct"):
        qapi_clone(SCHEMA, "str", "x")
    with pytest.raises(CloneAbort, match="'any'"):
        qapi_clone(SCHEMA, "Top", Struct("Top", {"kind": "b", "blob": AnyValue(QDict())}))
    assert qapi_clone(SCHEMA, "Top", None) is None


def test_clone_members_fills_an_existing_struct() -> None:
    source = Struct("Top", {"kind": "a", "list": [Struct("Inner", {"s": "x"})]})
    target = Struct("Top")
    qapi_clone_members(SCHEMA, "Top", target, source)
    assert target == source and target.members["list"] is not source.members["list"]


def test_a_list_cut_short_leaves_a_null_slot_and_is_freed_once() -> None:
    arguments = QDict({"kind": "a", "list": [QDict({"s": "x"}), QDict({"s": 5})]})
    with pytest.raises(VisitError) as caught:
        VISITOR.build("Top", arguments)
    partial = caught.value.partial
    assert partial.members["list"][1] == Struct("Inner", {"s": None})
    freed = qapi_free(SCHEMA, "Top", partial)
    assert sorted(map(id, freed)) == sorted(map(id, containers(partial)))


def test_a_missing_member_leaves_the_struct_half_built() -> None:
    with pytest.raises(VisitError) as caught:
        VISITOR.build("Top", QDict({"kind": "a", "alt": "s"}))
    assert caught.value.partial == Struct("Top", {"kind": "a", "alt": Alternate("Alt", "QTYPE_QSTRING", "s")})
    assert len(qapi_free(SCHEMA, "Top", caught.value.partial)) == 2


def test_dealloc_skips_null_branches_and_aborts_on_qtype_none() -> None:
    assert qapi_free(SCHEMA, "Top", Struct("Top", {"alt": Alternate("Alt", "QTYPE_QDICT")})) != []
    with pytest.raises(DeallocAbort):
        qapi_free(SCHEMA, "Top", Struct("Top", {"alt": Alternate("Alt", "")}))


def test_output_writes_numbers_as_doubles_and_skips_unset_members() -> None:
    built = VISITOR.build("Top", QDict({"kind": "b", "n": 2}))
    out = output_visit(SCHEMA, "Top", built)
    assert isinstance(out, QDict) and out.keys() == QDict({"kind": "b", "n": 2.0}).keys()
    assert isinstance(out.get("n"), float)
