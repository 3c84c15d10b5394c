"""Replies once observed from a real binary (a case's "pinned") must still be
what the oracle predicts: the facts stay pinned even where no binary runs."""

from __future__ import annotations

import pytest

from conformance.cases import SYNC_ID, QmpCase, load_cases
from conformance.compare import from_fixture, matches, parse_line
from conformance.implementations import INTROSPECTION_DIR
from conformance.snapshots import model_from_file
from reference.profiles import get_profile
from reference.qmp.transcript import predict
from reference.qobject.json_writer import to_json

PINNED = [case for case in load_cases() if case.pinned is not None]


def test_some_facts_are_pinned() -> None:
    assert len(PINNED) >= 10


@pytest.mark.parametrize("case", PINNED, ids=[c.id for c in PINNED])
def test_pinned_replies_are_predicted(case: QmpCase) -> None:
    model = model_from_file(INTROSPECTION_DIR / "qsd-7.2.json", get_profile("7.2"), exact_identity=True)
    transcript = predict(
        model, case.wire_segments(), negotiate=case.negotiate, capabilities=case.capabilities
    )
    prologue = 2 if case.negotiate else 1
    replies = [m.body for m in transcript.messages[prologue:] if m.body.get("id") != SYNC_ID]
    assert case.pinned is not None
    assert len(replies) == len(case.pinned)
    for predicted, pinned in zip(replies, case.pinned, strict=True):
        assert matches(from_fixture(pinned), parse_line(to_json(predicted).encode())), (predicted, pinned)
