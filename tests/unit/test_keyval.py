"""The keyval parser, the keyval-mode visitor and the --blockdev prediction, against the corpus.

Every corpus case was recorded from qemu-storage-daemon 7.2 (fixtures/keyval/cases.json);
here the oracle alone must predict it, so the facts stay pinned where no binary runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli_options import KeyvalCase, load_keyval_cases
from reference.profiles import get_profile
from reference.qapi.blockdev_option import Abstain, Outcome, error_line, predict
from reference.qapi.introspection import Schema, load_schema
from reference.qapi.keyval import KeyvalError, parse, parse_no_help
from reference.qapi.keyval_visitor import KeyvalVisitor, VisitError, parse_int, parse_size
from reference.qobject.values import QDict, QObject

SNAPSHOT = Path(__file__).resolve().parents[2] / "fixtures" / "introspection" / "qsd-7.2.json"
CASES = load_keyval_cases()


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(json.loads(SNAPSHOT.read_text())["query-qmp-schema"])


def plain(value: QObject) -> object:
    if isinstance(value, QDict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    assert sum(case.accepted for case in CASES) >= 5


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_parse(case: KeyvalCase) -> None:
    try:
        tree = parse_no_help(case.input, "driver")
    except KeyvalError as err:
        assert case.parse == {"error": err.message}
        return
    assert "tree" in case.parse, f"QEMU's parser rejects it: {case.parse}"
    assert plain(tree) == case.parse["tree"]
    # The fixture keeps QEMU's member order too.
    assert json.dumps(plain(tree)) == json.dumps(case.parse["tree"])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_blockdev(schema: Schema, case: KeyvalCase) -> None:
    predicted = predict(case.input, schema, get_profile("7.2"))
    assert predicted.accepted == case.accepted
    assert predicted.lines == case.expected().lines


def test_implied_key_takes_the_first_bare_value() -> None:
    assert plain(parse_no_help("null-co,node-name=a", "driver")) == {"driver": "null-co", "node-name": "a"}
    with pytest.raises(KeyvalError, match="Expected '=' after parameter 'null-co'"):
        parse_no_help("null-co", None)


def test_help_is_reported_when_the_caller_can_print_it() -> None:
    parsed = parse("driver=x,help")
    assert parsed.help and plain(parsed.tree) == {"driver": "x"}
    with pytest.raises(KeyvalError, match="Help is not available"):
        parse_no_help("driver=x,?")


def test_lists_nest_and_keep_their_order() -> None:
    tree = parse_no_help("a.1.b=y,a.0.b=x,a.2=z")
    assert plain(tree) == {"a": [{"b": "x"}, {"b": "y"}, "z"]}


def test_children_are_listified_before_the_parent_is_checked() -> None:
    with pytest.raises(KeyvalError, match=r"Parameter 'x\.0\.0' missing"):
        parse_no_help("x.0.2=a,x.b=c")


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("0x10", "int64", 16),
        ("010", "int64", 8),
        (" -5", "int64", -5),
        ("-1", "uint64", 2**64 - 1),
        ("9223372036854775808", "int64", None),
        ("08", "int64", None),
        ("5 ", "int64", None),
        ("", "int64", None),
        ("0x", "int64", None),
    ],
)
def test_parse_int(text: str, kind: str, value: int | None) -> None:
    assert parse_int(text, kind) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("1k", 1024), ("1.5M", 3 << 19), ("7", 7), ("1.5", None), ("-1", None), ("1e3", None), ("16E", None)],
)
def test_parse_size(text: str, value: int | None) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize(
    ("text", "old", "new"),
    [("0x10", 16, 16), ("0x1k", 1024, None), (".5k", None, 512), ("-0", None, None), ("1.", 1, 1)],
)
def test_parse_size_by_dialect(text: str, old: int | None, new: int | None) -> None:
    """The keyval visitor reads sizes with the profile's qemu_strtosz (pinned on qemu-system)."""
    assert (parse_size(text, "7.2"), parse_size(text, "8.1")) == (old, new)


def test_masked_integers_abstain(schema: Schema) -> None:
    with pytest.raises(Abstain, match="masked"):
        predict("driver=qcow2,file=f,cache-size=x", schema, get_profile("7.2"))


def test_known_int_kinds_decide_range_messages(schema: Schema) -> None:
    arg_type = schema.commands["blockdev-add"].arg_type
    kinds: dict[tuple[str, ...], str] = {("null-co", "size"): "uint8", ("null-co", "latency-ns"): "size"}
    visitor = KeyvalVisitor(schema, get_profile("7.2"), kinds)
    visitor.check(arg_type, parse_no_help("driver=null-co,size=255,latency-ns=1.5k"))
    for text, message in (
        ("size=256", "Parameter 'size' expects uint8_t"),
        ("latency-ns=1.5", "Parameter 'latency-ns' expects size"),
    ):
        with pytest.raises(VisitError) as caught:
            visitor.check(arg_type, parse_no_help(f"driver=null-co,{text}"))
        assert caught.value.messages == {message}


def test_alternate_without_a_list_branch_abstains(schema: Schema) -> None:
    with pytest.raises(Abstain, match="alternate"):
        predict("driver=qcow2,file.0=x", schema, get_profile("7.2"))


def test_json_arguments_are_not_keyval(schema: Schema) -> None:
    with pytest.raises(Abstain, match="JSON"):
        predict('{"driver": "null-co"}', schema, get_profile("7.2"))


def test_error_line_format() -> None:
    outcome = Outcome(False, frozenset({error_line("a,b", "Expected '=' after parameter 'b'")}))
    assert outcome.lines == {"qemu-storage-daemon: --blockdev a,b: Expected '=' after parameter 'b'"}
