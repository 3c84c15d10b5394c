"""Differential: `qemu-storage-daemon --blockdev KEYVAL` against the oracle's prediction.

Hypothesis draws arguments from BlockdevOptions in the qsd 7.2 snapshot: valid
ones for null-co/null-aio (they open no files) and broken ones for every driver
(bad keys, missing '=', inconsistent dotted use, list gaps, bad bool/int/enum
values, unknown drivers, unexpected members, ',,' escapes, help). An argument
is sent only when the oracle predicts it: for a driver other than null-co and
null-aio only when it proves the argument fails in the parser or the visitor,
before anything opens. The hand-written corpus runs too.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.cli_options import compare, find_qsd, load_keyval_cases, run_many
from conformance.implementations import probe_version
from reference.profiles import get_profile
from reference.qapi.blockdev_option import IMPLIED_KEY, NULL_DRIVERS, Abstain, Outcome, predict
from reference.qapi.introspection import TypeInfo, load_schema
from reference.qapi.keyval import parse_no_help

pytestmark = pytest.mark.slow

SNAPSHOT = Path(__file__).resolve().parents[2] / "fixtures" / "introspection" / "qsd-7.2.json"
PROFILE = get_profile("7.2")
SCHEMA = load_schema(json.loads(SNAPSHOT.read_text())["query-qmp-schema"])
ROOT = SCHEMA.type(SCHEMA.commands["blockdev-add"].arg_type)
DRIVERS = [variant.case for variant in ROOT.variants]


@pytest.fixture(scope="module")
def qsd() -> str:
    binary = find_qsd()
    if binary is None:
        message = "qemu-storage-daemon is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    if probe_version(binary)[:2] != (7, 2):
        pytest.skip(f"{binary} is not QEMU 7.2: the corpus and snapshot are 7.2's")
    return binary


# --- the schema's leaves, per driver --------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    path: str  # dotted keyval key
    info: TypeInfo


def _leaves(type_name: str, path: str, depth: int) -> Iterator[Leaf]:
    """The keys a member can be given, down to `depth` levels of nesting."""
    info = SCHEMA.type(type_name)
    yield Leaf(path, info)
    if depth == 0:
        return
    if info.meta == "object":
        for member in info.members:
            yield from _leaves(member.type, f"{path}.{member.name}", depth - 1)
    elif info.meta == "array":
        yield from _leaves(info.element, f"{path}.0", depth - 1)
    elif info.meta == "alternate":
        for variant in info.variants:
            if SCHEMA.type(variant.type).meta == "object":
                yield from _leaves(variant.type, path, depth)


def _driver_leaves(driver: str) -> list[Leaf]:
    branch = next(v.type for v in ROOT.variants if v.case == driver)
    members = [m for m in ROOT.members if m.name != "driver"] + list(SCHEMA.type(branch).members)
    return [leaf for member in members for leaf in _leaves(member.type, member.name, 2)]


LEAVES = {driver: _driver_leaves(driver) for driver in DRIVERS}


def _by_kind(driver: str, meta: str, json_type: str = "") -> list[Leaf]:
    return [
        leaf
        for leaf in LEAVES[driver]
        if leaf.info.meta == meta and (not json_type or leaf.info.json_type == json_type)
    ]


# --- strategies ---------------------------------------------------------------------------

SAFE_TEXT = st.text(alphabet="abcxyz019-_.:é ", min_size=0, max_size=6)
NODE_NAMES = st.from_regex(r"[a-zA-Z][a-zA-Z0-9._-]{0,12}", fullmatch=True)
BOOL_WORDS = st.sampled_from(["on", "off", "yes", "no", "true", "false", "y", "n"])
BAD_BOOLS = st.sampled_from(["maybe", "ON", "1", "0", "", "tru", "Off"])
BAD_INTS = st.sampled_from(["x", "1k", "", "0x", "1.5", "-1", "99999999999999999999", "128", "70000", "0x80"])
BAD_KEYS = st.sampled_from(
    [" a", "a b", "1x", "a..b", "a.", ".a", "é", "", "a.0x", "a#", "x" * 128, "a." + "b" * 128, "__a.b"]
)


def pair(key: str, value: str) -> str:
    return f"{key}={value.replace(',', ',,')}"


def join(draw: st.DrawFn, driver_pair: str, pairs: list[str], implied: str | None) -> str:
    pairs = draw(st.permutations(pairs))
    if implied is not None:
        text = ",".join([implied, *pairs])
    else:
        at = draw(st.integers(0, len(pairs)))
        text = ",".join([*pairs[:at], driver_pair, *pairs[at:]])
    return text + ("," if draw(st.booleans()) and text else "")


@st.composite
def valid_null(draw: st.DrawFn) -> str:
    """A null-co/null-aio argument the oracle expects to open (or to fail only at open)."""
    driver = draw(st.sampled_from(NULL_DRIVERS))
    pairs = [pair("node-name", draw(NODE_NAMES))]
    read_only = draw(st.booleans())
    optional = {
        "size": st.one_of(st.integers(0, 2**40).map(str), st.integers(0, 2**20).map(hex)),
        "latency-ns": st.integers(0, 10**6).map(str),
        "read-zeroes": BOOL_WORDS,
        "auto-read-only": BOOL_WORDS,
        "discard": st.sampled_from(["ignore", "unmap"]),
        "detect-zeroes": st.sampled_from(["off", "on", "unmap"]),
        "cache.direct": BOOL_WORDS,
        "cache.no-flush": BOOL_WORDS,
        "force-share": st.just("on" if read_only else "off"),
    }
    for key, values in optional.items():
        if draw(st.booleans()):
            pairs.append(pair(key, draw(values)))
    if read_only:
        pairs.append("read-only=on")
    if draw(st.integers(0, 4)) == 0:  # an earlier value for a key is overridden
        pairs.insert(0, pair("node-name", draw(SAFE_TEXT)))
    implied = driver if draw(st.booleans()) else None
    return join(draw, pair("driver", driver), pairs, implied)


MUTATIONS = (
    "bad-key", "missing-equals", "inconsistent", "gap", "bad-bool", "bad-int", "bad-enum",
    "unknown-driver", "unexpected", "escape", "help", "shape",
)  # fmt: skip


@st.composite
def broken(draw: st.DrawFn) -> str:
    """An argument for any driver with one targeted defect (the oracle decides what it does)."""
    driver = draw(st.sampled_from(DRIVERS))
    leaves = LEAVES[driver]
    pairs: list[str] = []
    for leaf in draw(st.lists(st.sampled_from(leaves), max_size=3)) if leaves else []:
        if leaf.info.meta == "builtin":
            value = {"boolean": "on", "int": "0"}.get(leaf.info.json_type, "x")
            pairs.append(pair(leaf.path, value))
        elif leaf.info.meta == "enum":
            pairs.append(pair(leaf.path, leaf.info.values[0]))
    mutation = draw(st.sampled_from(MUTATIONS))
    any_leaf = draw(st.sampled_from(leaves)) if leaves else Leaf("cache", ROOT)
    driver_value = driver
    if mutation == "bad-key":
        pairs.append(pair(draw(BAD_KEYS), "1"))
    elif mutation == "missing-equals":
        pairs.append(draw(st.sampled_from(["word", "a.b", any_leaf.path])))
    elif mutation == "inconsistent":
        both = [pair(any_leaf.path, "1"), pair(any_leaf.path + ".x", "2")]
        pairs += draw(st.permutations(both))
    elif mutation == "gap":
        pairs += [pair(any_leaf.path + ".0", "a"), pair(any_leaf.path + ".2", "b")]
    elif mutation == "bad-bool":
        target = draw(st.sampled_from(_by_kind(driver, "builtin", "boolean")))
        pairs.append(pair(target.path, draw(BAD_BOOLS)))
    elif mutation == "bad-int":
        ints = _by_kind(driver, "builtin", "int")
        target = draw(st.sampled_from(ints)) if ints else any_leaf
        pairs.append(pair(target.path, draw(BAD_INTS)))
    elif mutation == "bad-enum":
        target = draw(st.sampled_from(_by_kind(driver, "enum")))
        pairs.append(pair(target.path, draw(st.sampled_from(["bogus", "", target.info.values[0].upper()]))))
    elif mutation == "unknown-driver":
        driver_value = draw(st.sampled_from(["nope", "NULL-CO", "null_co", "", "qcow3"]))
    elif mutation == "unexpected":
        pairs.append(pair(draw(st.sampled_from(["zz", "cache.zz", "x-zz", any_leaf.path + ".zz"])), "1"))
    elif mutation == "escape":
        driver_value = draw(st.sampled_from([driver + ",x", "x," + driver, driver + ",,"]))
    elif mutation == "help":
        pairs.append(draw(st.sampled_from(["help", "?"])))
    else:  # shape: an object where a scalar goes, or the reverse
        pairs.append(draw(st.sampled_from([pair(any_leaf.path + ".a", "1"), pair("cache", "x")])))
    implied = driver_value if "," not in driver_value and draw(st.booleans()) else None
    return join(draw, pair("driver", driver_value), pairs, implied)


# --- the differential ---------------------------------------------------------------------


@dataclass
class Tally:
    generated: int = 0
    sent: int = 0
    agreed: int = 0
    abstained: int = 0
    withheld: int = 0
    stages: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)


def sendable(argument: str, tally: Tally) -> Outcome | None:
    """The prediction, if the argument may be sent: nothing but null nodes may open."""
    tally.generated += 1
    try:
        outcome = predict(argument, SCHEMA, PROFILE)
    except Abstain as why:
        reason = str(why)
        if reason.startswith("opening"):  # valid for a driver that would open something
            tally.withheld += 1
        else:
            tally.abstained += 1
            tally.reasons[reason.split("'")[0].split(":")[0].strip()] += 1
        return None
    # Belt and braces: whatever may reach blockdev-add must be a null node.
    if outcome.accepted or outcome.stage == "open":
        assert parse_no_help(argument, IMPLIED_KEY).get("driver") in NULL_DRIVERS
    return outcome


def run_batch(qsd: str, arguments: list[str], tally: Tally) -> None:
    predictions = {arg: outcome for arg in arguments if (outcome := sendable(arg, tally)) is not None}
    observations = run_many(qsd, list(predictions))
    for observation in observations:
        outcome = predictions[observation.argument]
        tally.sent += 1
        tally.stages["accepted" if outcome.accepted else outcome.stage] += 1
        problem = compare(outcome, observation)
        if problem is None:
            tally.agreed += 1
        else:
            tally.findings.append(f"--blockdev {observation.argument!r}: {problem}")


def report(name: str, tally: Tally) -> None:
    print(
        f"{name}: generated {tally.generated}, sent {tally.sent}, agreed {tally.agreed}, "
        f"abstained {tally.abstained} {dict(tally.reasons)}, withheld {tally.withheld}, "
        f"sent by stage {dict(tally.stages)}"
    )
    assert not tally.findings, "\n".join(tally.findings[:20])


def test_corpus_on_qsd(qsd: str) -> None:
    cases = load_keyval_cases()
    tally = Tally()
    run_batch(qsd, [case.input for case in cases], tally)
    report("corpus", tally)
    assert tally.sent == len(cases), "every corpus case is predicted and safe to send"


def test_generated_on_qsd(qsd: str) -> None:
    tally = Tally()

    @settings(max_examples=settings().max_examples)
    @given(st.lists(st.one_of(valid_null(), broken(), broken()), min_size=1, max_size=8, unique=True))
    def run(arguments: list[str]) -> None:
        run_batch(qsd, arguments, tally)

    run()
    report("generated", tally)
    assert tally.sent >= tally.generated // 2, "most generated arguments should be predicted and sent"
