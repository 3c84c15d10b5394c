"""The probed integer C types, checked to the letter on the binaries they came from.

Every request carries the unexpected member "qconform-probe" beside the
integer (conformance/int_types.py), so none can run a command: the reply is
the visitor's error, which must be one the oracle predicts from the table.
Values crowd the C types' edges; above UINT64_MAX or below INT64_MIN the JSON
parser makes a double, as the oracle's parser does.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.implementations import Implementation, discover
from conformance.int_types import Slot, slots, table_path, to_qobject_dict
from conformance.pytest_plugin import missing_outcome
from conformance.snapshots import model_from_file
from reference.qapi.c_int_types import C_INT_TYPES
from reference.qapi.input_visitor import InputVisitor, VisitAbstains, VisitError
from reference.qapi.introspection import Schema

IMPLEMENTATIONS = ("qsd", "qemu-system")
# Other QEMU releases: each member only at its own type's edges, to stay cheap.
CONTAINERS = tuple(
    f"{flavour}@{suite}" for suite in ("bullseye", "trixie", "sid") for flavour in IMPLEMENTATIONS
)
EDGES = sorted(
    {
        edge + offset
        for bits in (7, 8, 15, 16, 31, 32, 63, 64)
        for edge in (2**bits, -(2**bits))
        for offset in (-1, 0, 1)
    }
    | {0, 1, -1}
)
integers = st.one_of(
    st.sampled_from(EDGES), st.integers(-(2**65), 2**65), st.floats(allow_nan=False, allow_infinity=False)
)


def as_parsed(value: object) -> object:
    """What QEMU's JSON parser makes of json.dumps(value): a double outside int64/uint64."""
    if type(value) is int and not -(2**63) <= value < 2**64:
        return float(value)
    return value


@cache
def implementation(name: str) -> Implementation | None:
    found, missing = discover()
    for impl in found:
        if impl.name == name:
            return impl
    gone = next(m for m in missing if m.name == name)
    missing_outcome(gone)
    return None


def schema_of(impl: Implementation) -> Schema:
    return model_from_file(impl.snapshot_path, impl.profile, exact_identity=False).schema


class Probe:
    def __init__(self, impl: Implementation) -> None:
        from conformance.int_types import _Session

        self.impl = impl
        self.schema = schema_of(impl)
        self.visitor = InputVisitor(self.schema, impl.profile)
        self.slots = [
            slot
            for slot in slots(self.schema, _commands(impl), impl.profile.unvisited_commands)
            if slot.member in self.schema.int_types.get(slot.owner, {})
        ]
        self.instance = impl.launch()
        self.session = _Session(self.instance)

    def check(self, slot: Slot, value: object) -> None:
        request = slot.request(value)  # type: ignore[arg-type]
        arguments = to_qobject_dict(slot.request(as_parsed(value))["arguments"])  # type: ignore[arg-type]
        try:
            self.visitor.check_arguments(slot.arg_type, arguments)
        except VisitAbstains as why:
            pytest.fail(f"{slot.owner}.{slot.member} = {value!r}: the oracle abstains: {why.reason}")
        except VisitError as err:
            predicted = err.messages
        else:
            pytest.fail(f"{slot.owner}.{slot.member} = {value!r}: the oracle would run it; not sent")
        reply = self.session.ask(request)
        desc = reply.get("error", {}).get("desc")
        assert desc in predicted, (slot.command, slot.full, value, desc, sorted(predicted))

    def close(self) -> None:
        self.session.stream.close()
        self.instance.stop()


def _commands(impl: Implementation) -> list[str]:
    return list(model_from_file(impl.snapshot_path, impl.profile, exact_identity=False).command_order)


@pytest.fixture(scope="module", params=IMPLEMENTATIONS + CONTAINERS)
def probe(request: pytest.FixtureRequest) -> Iterator[Probe]:
    impl = implementation(request.param)
    assert impl is not None
    if not table_path(impl.snapshot_path).exists():
        pytest.fail(
            f"{impl.name}: no integer table {table_path(impl.snapshot_path)} (qconform capture --int-types)"
        )
    found = Probe(impl)
    yield found
    found.close()


def own_edges(ctype: str) -> list[int]:
    """Where this C type's answers change: its bounds, -1, and the int64/uint64 limits."""
    bounds = C_INT_TYPES[ctype]
    return sorted({bounds.low - 1, bounds.low, bounds.high, bounds.high + 1, -1, 2**63, 2**64})


def test_every_member_at_every_edge(probe: Probe) -> None:
    assert probe.slots, "no integer member reached"
    for slot in probe.slots:
        if probe.impl.name in IMPLEMENTATIONS:
            values = EDGES
        else:
            values = own_edges(probe.schema.int_types[slot.owner][slot.member])
        for value in values:
            probe.check(slot, value)


def test_generated_integers(probe: Probe) -> None:
    @settings(max_examples=max(20, settings().max_examples))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(probe.slots))
        for value in data.draw(st.lists(integers, min_size=1, max_size=8)):
            probe.check(slot, value)

    run()
