"""QemuOpts parsing and the opts visitor, against the recorded option corpus and their edge facts.

Every option case in fixtures/cli-visitors/cases.json was recorded from qemu-system-x86_64 7.2,
and where 10.0 or 11.1 differ, from them too; here the oracle alone must predict it on each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli_visitors import OptionCase, load_cases
from conformance.errors import QconformError
from reference.profiles import get_profile
from reference.qapi.opts_visitor import OptsVisitor, VisitAbstains, VisitError
from reference.qapi.qemu_opts import OptsParseAbstains, OptsParseError, QemuOpts, parse_opts
from reference.qapi.system_cli import INT_KINDS, Abstain, option_type, predict_option, system_schema

PROFILE = get_profile("7.2")
OPTION_CASES = load_cases()[0]


def test_corpus_covers_each_option() -> None:
    assert {case.option for case in OPTION_CASES} == {"-numa", "-netdev", "-acpitable"}
    assert len(OPTION_CASES) >= 70


VERSIONS = ("7.2", "10.0", "11.1")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", OPTION_CASES, ids=lambda case: case.id)
def test_recorded_option_case(case: OptionCase, version: str) -> None:
    if version in case.unmodelled:
        with pytest.raises(Abstain):
            predict_option(case.option, case.argument, get_profile(version))
        return
    outcome = predict_option(case.option, case.argument, get_profile(version))
    assert case.stderr_on(version) in outcome.stderr


def test_qemu_opts_pairs_flags_and_id() -> None:
    opts = parse_opts("node,cpus=1,,2,nomem,x,id=a,id=b", "type")
    assert opts.pairs == (("type", "node"), ("cpus", "1,2"), ("mem", "off"), ("x", "on"))
    assert opts.id == "a"  # the first id names the options; every id pair is dropped
    assert opts.warnings == (
        "warning: short-form boolean option 'nomem' deprecated",
        "Please use mem=off instead",
        "warning: short-form boolean option 'x' deprecated",
        "Please use x=on instead",
    )
    # "delay" flags point at nodelay, with the opposite sense.
    assert parse_opts("nodelay", None).warnings[1] == "Please use nodelay=on instead"
    assert parse_opts("delay", None).warnings[1] == "Please use nodelay=off instead"


def test_qemu_opts_errors() -> None:
    with pytest.raises(OptsParseError) as caught:
        parse_opts("node,id=1x", "type")
    assert caught.value.message == "Parameter 'id' expects an identifier"
    with pytest.raises(OptsParseAbstains):
        parse_opts("node,help", "type")


def visit(option: str, text: str) -> dict[str, object]:
    opts = parse_opts(text, "type")
    visitor = OptsVisitor(system_schema(), PROFILE, INT_KINDS[option])
    return dict(visitor.visit(option_type(option), opts).values)


def visit_error(option: str, text: str) -> frozenset[str]:
    with pytest.raises(VisitError) as caught:
        visit(option, text)
    return caught.value.messages


def test_lists_gather_every_occurrence() -> None:
    values = visit("-numa", "node,cpus=3,cpus=0-1,cpus=0x10,nodeid=1,nodeid=2")
    assert values == {"type": "node", "cpus": [3, 0, 1, 16], "nodeid": 2}


def test_leftover_keys_any_in_hash_order() -> None:
    assert visit_error("-numa", "dist,src=1,dst=2,val=3,p=1,q=2") == {
        "Invalid parameter 'p'",
        "Invalid parameter 'q'",
    }


def test_enum_key_is_consumed_even_when_rejected() -> None:
    # Only the enum error: 'type' does not also come back as an invalid parameter.
    assert visit_error("-numa", "type=bogus") == {"Parameter 'type' does not accept value 'bogus'"}


def test_signed_list_ranges() -> None:
    top = 2**63 - 1
    visitor = OptsVisitor(system_schema(), PROFILE, {("node", "cpus"): "int64"})
    near_top = QemuOpts((("type", "node"), ("cpus", f"{top - 2}-{top}"), ("cpus", "-2--1")))
    assert visitor.visit(option_type("-numa"), near_top).values["cpus"] == [top - 2, top - 1, top, -2, -1]
    too_long = QemuOpts((("type", "node"), ("cpus", "-1-65535")))
    with pytest.raises(VisitError) as caught:
        visitor.visit(option_type("-numa"), too_long)
    assert caught.value.messages == {"Parameter 'cpus' expects an int64 value or range"}


def test_unknown_integer_kind_abstains() -> None:
    with pytest.raises(VisitAbstains):
        visit("-netdev", "tap,id=t,queues=x")


def test_created_backends_are_not_predicted() -> None:
    with pytest.raises(Abstain):
        predict_option("-netdev", "user,id=u", PROFILE)
    with pytest.raises(Abstain):
        predict_option("-netdev", "stream,id=s", PROFILE)  # keyval, not QemuOpts
    with pytest.raises(Abstain):
        predict_option("-acpitable", "data=x", PROFILE)  # reads a file


def test_broken_corpus_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "cases.json"
    bad.write_text(json.dumps({"description": "x", "cases": [{"id": "a", "option": "-numa"}]}))
    with pytest.raises(QconformError, match=r"cases\.json: at 'cases/0'"):
        load_cases(bad)
    bad.write_text("{")
    with pytest.raises(QconformError):
        load_cases(bad)
