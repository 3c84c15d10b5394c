"""The string input visitor and qemu_strtosz, against the recorded HMP corpus and their edge facts.

Every HMP case in fixtures/cli-visitors/cases.json was recorded from qemu-system-x86_64 7.2,
and where 10.0 or 11.1 differ, from them too; here the oracle alone must predict it on each, so
the facts stay pinned where no binary runs.
"""

from __future__ import annotations

import pytest

from conformance.cli_visitors import HmpCase, load_cases
from reference.profiles import get_profile
from reference.qapi.hmp_property import TARGETS, Abstain, predict_hmp
from reference.qapi.string_input_visitor import (
    SIZE_HINT,
    SizeAbstains,
    StringVisitError,
    visit_bool,
    visit_enum,
    visit_int,
    visit_int_list,
    visit_null,
    visit_number,
    visit_size,
)
from reference.qapi.strtosz import strtosz

PROFILE = get_profile("7.2")
HMP_CASES = load_cases()[1]


def test_corpus_covers_every_target() -> None:
    assert {case.target.name for case in HMP_CASES} == set(TARGETS)
    assert len(HMP_CASES) >= 80


@pytest.mark.parametrize("version", ["7.2", "10.0", "11.1"])
@pytest.mark.parametrize("case", HMP_CASES, ids=lambda case: case.id)
def test_recorded_hmp_case(case: HmpCase, version: str) -> None:
    if version in case.unmodelled:
        with pytest.raises(Abstain):
            predict_hmp(case.target, case.value, get_profile(version))
        return
    outcome = predict_hmp(case.target, case.value, get_profile(version))
    output, readback = case.outcome_on(version)
    assert (list(outcome.output), outcome.value) == (list(output), readback)


def message(call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(StringVisitError) as caught:
        call(*args)
    return caught.value.message


def test_integers_read_the_whole_string_in_base_0() -> None:
    assert visit_int("0x10", "n", "int64") == 16
    assert visit_int("010", "n", "int64") == 8
    assert visit_int(" -5", "n", "int64") == -5
    assert visit_int("-1", "n", "uint64") == 2**64 - 1
    assert message(visit_int, "5 ", "n", "int64") == "Parameter 'n' expects int64"
    assert message(visit_int, "9223372036854775808", "n", "int64") == "Parameter 'n' expects int64"
    assert message(visit_int, "x", "n", "uint8") == "Parameter 'n' expects uint64"
    assert message(visit_int, "256", "n", "uint8") == "Parameter 'n' expects uint8_t"
    assert message(visit_int, "-129", None, "int8") == "Parameter 'null' expects int8_t"


def test_integer_lists_take_values_and_ranges() -> None:
    assert visit_int_list("", "uint16") == []
    assert visit_int_list("1-3,5", "uint16") == [1, 2, 3, 5]
    assert visit_int_list("4,", "uint16") == [4]
    assert visit_int_list("-3--1", "int64") == [-3, -2, -1]
    assert len(visit_int_list("0-65535", "uint64")) == 65536
    too_long = "Parameter 'null' expects list of uint64 values or ranges"
    assert message(visit_int_list, "0-65536", "uint64") == too_long
    assert (
        message(visit_int_list, "3-1", "int64") == "Parameter 'null' expects list of int64 values or ranges"
    )
    assert message(visit_int_list, ",1", "uint16") == too_long
    assert message(visit_int_list, "1-2-3", "uint16") == too_long
    assert message(visit_int_list, "65535-65536", "uint16") == "Parameter 'null' expects uint16_t"


def test_int64_range_ending_at_int64_max() -> None:
    top = 2**63 - 1
    assert visit_int_list(f"{top - 1}-{top}", "int64") == [top - 1, top]


def test_booleans_are_exact_words() -> None:
    assert [visit_bool(word, "b") for word in ("on", "yes", "true", "y")] == [True] * 4
    assert [visit_bool(word, "b") for word in ("off", "no", "false", "n")] == [False] * 4
    assert message(visit_bool, "ON", "b") == "Parameter 'b' expects 'on' or 'off'"
    assert message(visit_bool, "", None) == "Parameter 'null' expects 'on' or 'off'"


def test_numbers_are_finite() -> None:
    assert visit_number("1.5e3", "d") == 1500.0
    assert visit_number("0x10", "d") == 16.0
    assert message(visit_number, "inf", "d") == "Parameter 'd' expects number"
    assert message(visit_number, "1e999", "d") == "Parameter 'd' expects number"
    assert message(visit_number, "1x", None) == "Parameter 'null' expects number"


def test_null_and_enum() -> None:
    visit_null("", "x")
    assert message(visit_null, "a", None) == "Invalid parameter type for 'null', expected: null"
    assert visit_enum("bind", "p", ("bind",), PROFILE) == "bind"
    assert message(visit_enum, "x", None, ("bind",), PROFILE) == "Parameter 'null' does not accept value 'x'"


def test_size_messages() -> None:
    with pytest.raises(StringVisitError) as caught:
        visit_size("1x", "s")
    assert caught.value == StringVisitError(
        "Parameter 's' expects a non-negative number below 2^64", SIZE_HINT
    )
    assert message(visit_size, "16E", "s") == "Value '16E' is out of range for parameter 's'"
    assert visit_size("0x1k", "s").warning == "Using a multiplier suffix on hex numbers is deprecated: 0x1k"
    assert message(visit_size, "1x", None) == "Parameter '(null)' expects a non-negative number below 2^64"


@pytest.mark.parametrize(
    ("text", "value", "error"),
    [
        ("1.", 1, ""),
        ("1.k", 1024, ""),
        ("0.0005k", 1, ""),  # 0.512 rounds half up
        ("0.0004k", 0, ""),
        ("1.5", 0, "EINVAL"),
        ("1.5e", 3 << 59, ""),  # no exponent digits: 'e' is the exabyte suffix
        ("99999999999999999999", 0, "ERANGE"),
        ("99999999999999999999k", 0, "EINVAL"),  # text after an overflow is invalid
        ("16E", 0, "ERANGE"),
        ("0x1B", 27, ""),  # B is a hex digit here
        ("00x10", 0, "EINVAL"),
    ],
)
def test_strtosz(text: str, value: int, error: str) -> None:
    size = strtosz(text)
    assert (size.value, size.error) == (value, error)


def test_fraction_rounding_to_one_abstains() -> None:
    with pytest.raises(SizeAbstains):
        strtosz("1.99999999999999999999k")


def test_hmp_values_the_monitor_cannot_carry_abstain() -> None:
    with pytest.raises(Abstain):
        predict_hmp(TARGETS["poll-max-ns"], " 5", PROFILE)
    with pytest.raises(Abstain):
        predict_hmp(TARGETS["compress-level"], "1 2", PROFILE)
