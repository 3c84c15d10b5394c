"""Differential: qemu-system-x86_64 against the opts visitor and the string input visitor.

Every qemu-system implementation runs it: the host's 7.2 and, in containers,
qemu-system@bookworm/trixie/sid, each predicted with its version's profile.
Containers draw fewer examples (CONTAINER_EXAMPLES): each batch of options
costs a container start.

Option arguments (`-numa`, `-netdev hubport`, `-acpitable`) each run in their own
short-lived qemu-system; HMP property sets (qom-set, migrate_set_parameter) all
run in one session. Hypothesis draws integers, sizes, lists with ranges,
booleans, enum values, repeated and unknown keys, flags and ids; a draw is sent
only when the oracle predicts it (never one that would create a real network
backend or read a file). The hand-written corpus runs too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.cli_visitors import (
    HmpBatch,
    OptionCase,
    compare_hmp,
    compare_option,
    load_cases,
    run_options,
)
from conformance.divergences import load_divergences
from conformance.hmp import SystemTarget
from reference.profiles import Profile, get_profile
from reference.qapi import hmp_property, system_cli
from reference.qapi.hmp_property import TARGETS, predict_hmp
from reference.qapi.system_cli import predict_option

pytestmark = pytest.mark.slow

CONTAINER_EXAMPLES = 6


def profile_of(target: SystemTarget) -> Profile:
    return get_profile(target.profile_name)


def examples_for(target: SystemTarget) -> int:
    examples = settings().max_examples
    return examples if target.image is None else min(examples, CONTAINER_EXAMPLES)


@pytest.fixture(scope="module")
def hmp_batch(qemu_system: SystemTarget) -> Iterator[HmpBatch]:
    with HmpBatch(qemu_system) as batch:
        yield batch


@dataclass
class Tally:
    generated: int = 0
    sent: int = 0
    agreed: int = 0
    abstained: Counter[str] = field(default_factory=Counter)
    stages: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    def report(self, name: str) -> None:
        print(
            f"{name}: generated {self.generated}, sent {self.sent}, agreed {self.agreed}, "
            f"abstained {dict(self.abstained)}, sent by stage {dict(self.stages)}"
        )
        assert not self.findings, "\n".join(self.findings[:20])


def check_options(target: SystemTarget, items: list[tuple[str, str]], tally: Tally) -> None:
    predictions = {}
    for option, argument in items:
        tally.generated += 1
        try:
            predictions[(option, argument)] = predict_option(option, argument, profile_of(target))
        except system_cli.Abstain as why:
            tally.abstained[str(why).split("'")[0].strip()] += 1
    for observed in run_options(target, list(predictions), workers=2):
        predicted = predictions[(observed.option, observed.argument)]
        tally.sent += 1
        tally.stages[predicted.stage] += 1
        problem = compare_option(predicted, observed)
        if problem is None:
            tally.agreed += 1
        else:
            tally.findings.append(f"{observed.option} {observed.argument!r}: {problem}")


def check_hmp(batch: HmpBatch, profile: Profile, items: list[tuple[str, str]], tally: Tally) -> None:
    for name, value in items:
        target = TARGETS[name]
        tally.generated += 1
        try:
            predicted = predict_hmp(target, value, profile)
        except hmp_property.Abstain as why:
            tally.abstained[str(why).split(":")[0]] += 1
            continue
        observed = batch.set(target, value)
        tally.sent += 1
        tally.stages[predicted.stage] += 1
        problem = compare_hmp(predicted, observed)
        if problem is None:
            tally.agreed += 1
        else:
            tally.findings.append(f"{target.command} {value!r}: {problem}")
    assert batch.crash_report() is None


def test_corpus_on_qemu_system(qemu_system: SystemTarget, hmp_batch: HmpBatch) -> None:
    options, hmps = load_cases()
    profile = profile_of(qemu_system)
    known = {case for case, impl in load_divergences() if impl == qemu_system.name}
    # A case the corpus marks unmodelled for this version must make the oracle abstain.
    skipped = {c.id for c in options if profile.name in c.unmodelled}
    skipped |= {c.id for c in hmps if profile.name in c.unmodelled}
    for case in (c for c in options if c.id in skipped):
        with pytest.raises(system_cli.Abstain):
            predict_option(case.option, case.argument, profile)
    for hmp_case in (c for c in hmps if c.id in skipped):
        with pytest.raises(hmp_property.Abstain):
            predict_hmp(hmp_case.target, hmp_case.value, profile)
    tally = Tally()
    options_run = [(c.option, c.argument) for c in options if c.id not in known | skipped]
    check_options(qemu_system, options_run, tally)
    check_hmp(hmp_batch, profile, [(c.target.name, c.value) for c in hmps if c.id not in skipped], tally)
    tally.report(f"{qemu_system.name} corpus ({len(skipped)} marked unmodelled)")
    # Every other corpus case is predicted, on every version.
    assert not tally.abstained, tally.abstained
    assert tally.sent == len(options) + len(hmps) - len((known & ids(options)) | skipped)
    # A recorded divergence must still diverge.
    for case in (c for c in options if c.id in known):
        observed = run_options(qemu_system, [(case.option, case.argument)])[0]
        predicted = predict_option(case.option, case.argument, profile_of(qemu_system))
        assert compare_option(predicted, observed) is not None, f"{case.id} agrees now: drop its divergence"


def ids(cases: list[OptionCase]) -> set[str]:
    return {case.id for case in cases}


# --- strategies -----------------------------------------------------------------------------

BIG = 2**64 + 10


@st.composite
def integer_text(draw: st.DrawFn) -> str:
    """Integers as C reads them, near type limits, in every base, with junk now and then."""
    value = draw(
        st.one_of(
            st.integers(0, 40),
            st.integers(-200, 70000),
            st.sampled_from([2**8, 2**16, 2**31, 2**32, 2**63, 2**64]).flatmap(
                lambda edge: st.integers(-2, 1).map(lambda d: edge + d)
            ),
            st.integers(-BIG, BIG),
        )
    )
    sign = "-" if value < 0 else draw(st.sampled_from(["", "", "+"]))
    form = draw(st.sampled_from(["dec", "dec", "hex", "oct"]))
    digits = {"dec": str(abs(value)), "hex": hex(abs(value)), "oct": "0" + oct(abs(value))[2:]}[form]
    text = sign + digits
    if draw(st.integers(0, 7)) == 0:
        text = (
            draw(st.sampled_from([" ", "x", "", "-"]))
            + text
            + draw(st.sampled_from(["", "k", " ", "x", "-"]))
        )
    return text


@st.composite
def size_text(draw: st.DrawFn) -> str:
    whole = draw(st.one_of(st.integers(0, 5000), st.integers(0, 2**64 + 5)).map(str))
    fraction = draw(
        st.sampled_from(
            ["", "", ".", ".5", ".25", ".0", ".0009765625", ".9", ".5e3", ".99999999999999999999"]
        )
    )
    if draw(st.integers(0, 5)) == 0:
        whole = ""  # a bare fraction: invalid in 7.2, read since 8.1
    suffix = draw(st.sampled_from(["", "", "b", "B", "k", "K", "M", "g", "T", "P", "E", "kB", "x", "i"]))
    if draw(st.integers(0, 6)) == 0:
        return (
            draw(st.sampled_from(["0x", "0X", "-0x"]))
            + draw(st.sampled_from(["10", "1f", "", "1.8", "1b"]))
            + suffix
        )
    return draw(st.sampled_from(["", "", "-", "+"])) + whole + fraction + suffix


@st.composite
def list_text(draw: st.DrawFn) -> str:
    entries = []
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, 300))
        if draw(st.booleans()):
            entries.append(str(start))
        else:
            end = start + draw(st.sampled_from([-1, 0, 1, 5, 65535, 65536]))
            entries.append(f"{start}-{end}")
    if draw(st.integers(0, 5)) == 0:
        entries.append(draw(st.sampled_from(["", "x", "70000", "-1", "1-", " 2"])))
    return ",".join(entries) + draw(st.sampled_from(["", "", ","]))


BOOL_WORDS = st.sampled_from(["on", "off", "yes", "no", "true", "false", "y", "n", "ON", "Off", "1", "maybe"])
PRINTABLE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.just("é"), max_size=8)

HMP_VALUES = {
    "int64": integer_text(),
    "uint32": integer_text(),
    "uint8": integer_text(),
    "bool": BOOL_WORDS,
    "str": PRINTABLE.filter(bool),
    "enum": st.sampled_from(["default", "preferred", "bind", "interleave", "Bind", "none", ""]),
    "size": size_text(),
    "uint16-list": list_text(),
}


@st.composite
def hmp_item(draw: st.DrawFn) -> tuple[str, str]:
    target = draw(st.sampled_from(sorted(TARGETS.values(), key=lambda t: t.name)))
    return target.name, draw(HMP_VALUES[target.kind])


NUMA_MEMBERS = {
    "node": {"nodeid": "int", "cpus": "list", "mem": "size", "memdev": "str", "initiator": "int"},
    "dist": {"src": "int", "dst": "int", "val": "int"},
    "cpu": {m: "int" for m in ("node-id", "socket-id", "die-id", "cluster-id", "core-id", "thread-id")},
    "hmat-lb": {
        "initiator": "int", "target": "int", "hierarchy": "hierarchy", "data-type": "data-type",
        "latency": "int", "bandwidth": "size",
    },
    "hmat-cache": {
        "node-id": "int", "size": "size", "level": "int", "associativity": "associativity",
        "policy": "policy", "line": "int",
    },
}  # fmt: skip
ENUM_VALUES = {
    "hierarchy": ["memory", "first-level", "l4"],
    "data-type": ["access-latency", "write-bandwidth", "bogus"],
    "associativity": ["none", "direct", "complex", "x"],
    "policy": ["none", "write-back", "write-through", "x"],
}


def member_value(kind: str) -> st.SearchStrategy[str]:
    if kind == "int":
        return integer_text()
    if kind == "size":
        return size_text()
    if kind == "list":
        return list_text().map(lambda text: text.split(",")[0] or "0")  # one element per occurrence
    if kind == "str":
        return PRINTABLE
    return st.sampled_from(ENUM_VALUES[kind])


def escaped(value: str) -> str:
    return value.replace(",", ",,")


@st.composite
def extras(draw: st.DrawFn) -> list[str]:
    """Defects besides the members: unknown keys, flags, ids."""
    pairs = []
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        pairs.append(
            draw(st.sampled_from(["zz=1", "a=b", "cpus", "nomem", "id=x0", "id=0x", "help=1", "type=dist"]))
        )
    return pairs


@st.composite
def numa_argument(draw: st.DrawFn) -> str:
    case = draw(st.sampled_from([*NUMA_MEMBERS, "nodx"]))
    members = NUMA_MEMBERS.get(case, {})
    pairs = []
    for name, kind in members.items():
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
            pairs.append(f"{name}={escaped(draw(member_value(kind)))}")
    pairs += draw(extras())
    pairs = draw(st.permutations(pairs))
    head = case if draw(st.booleans()) else f"type={case}"
    return ",".join([head, *pairs])


@st.composite
def netdev_argument(draw: st.DrawFn) -> str:
    case = draw(st.sampled_from(["hubport", "hubport", "hubport", "none", "nic", "bogus", "user"]))
    pairs = []
    if draw(st.integers(0, 5)) > 0:
        pairs.append(f"id={draw(st.sampled_from(['h0', 'n.1', '1x', '']))}")
    if case == "hubport" and draw(st.integers(0, 5)) > 0:
        pairs.append(f"hubid={draw(integer_text())}")
    if case == "user":  # only visits that fail are sent
        pairs.append(f"restrict={draw(st.sampled_from(['maybe', 'ON', '1']))}")
    pairs += draw(extras())
    pairs = draw(st.permutations(pairs))
    return ",".join([case, *pairs])


@st.composite
def acpitable_argument(draw: st.DrawFn) -> str:
    pairs = []
    for name, kind in (
        ("sig", "str"),
        ("rev", "int"),
        ("oem_id", "str"),
        ("oem_rev", "int"),
        ("asl_compiler_rev", "int"),
    ):
        if draw(st.booleans()):
            pairs.append(f"{name}={escaped(draw(member_value(kind)))}")
    pairs += [p for p in draw(extras()) if "=" in p]
    pairs = draw(st.permutations(pairs))
    return ",".join(pairs) or "sig=ABCD"


OPTION_ITEMS = st.one_of(
    numa_argument().map(lambda arg: ("-numa", arg)),
    netdev_argument().map(lambda arg: ("-netdev", arg)),
    acpitable_argument().map(lambda arg: ("-acpitable", arg)),
)


def test_generated_options(qemu_system: SystemTarget) -> None:
    tally = Tally()

    @settings(max_examples=examples_for(qemu_system))
    @given(st.lists(OPTION_ITEMS, min_size=1, max_size=8, unique=True))
    def run(items: list[tuple[str, str]]) -> None:
        check_options(qemu_system, items, tally)

    run()
    tally.report(f"{qemu_system.name} generated options")
    assert tally.sent >= tally.generated * 3 // 4, "most generated options should be predicted"


def test_generated_hmp(qemu_system: SystemTarget, hmp_batch: HmpBatch) -> None:
    tally = Tally()

    @settings(max_examples=settings().max_examples)  # one session: cheap in a container too
    @given(st.lists(hmp_item(), min_size=1, max_size=12))
    def run(items: list[tuple[str, str]]) -> None:
        check_hmp(hmp_batch, profile_of(qemu_system), items, tally)

    run()
    tally.report(f"{qemu_system.name} generated hmp")
    assert tally.sent >= tally.generated * 3 // 4, "most generated values should be predicted"
