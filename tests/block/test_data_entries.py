"""Which of a step case's "data" entries are checked where: by implementation and by profile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.block.fixture import BLOCK_DIR, data_applies, load
from conformance.errors import QconformError
from reference.profiles import get_profile

WAKE_UP = {"image": "lbase", "pattern": 0, "offset": 524288, "length": 524288,
           "profile": {"limited_job_wake_up_copies": False}}  # fmt: skip


def test_a_profile_entry_is_checked_where_the_profile_has_those_values() -> None:
    assert not data_applies(WAKE_UP, "qsd", get_profile("7.2"))
    assert not data_applies(WAKE_UP, "qsd@bookworm", get_profile("7.2"))
    assert data_applies(WAKE_UP, "qsd@trixie", get_profile("10.0"))
    assert data_applies(WAKE_UP, "qemu-system@sid", get_profile("11.1"))


def test_an_implementations_entry_is_checked_on_those_named_only() -> None:
    entry = {"image": "img", "pattern": 0, "offset": 0, "length": 1, "implementations": ["qemu-system"]}
    assert data_applies(entry, "qemu-system", get_profile("7.2"))
    assert not data_applies(entry, "qsd", get_profile("7.2"))


def test_implementations_name_the_family_wherever_it_runs() -> None:
    entry = {"image": "img", "pattern": 0, "offset": 0, "length": 1, "implementations": ["qemu-system"]}
    assert data_applies(entry, "qemu-system@trixie", get_profile("10.0"))
    assert data_applies(entry, "qemu-system@bookworm", get_profile("7.2"))
    assert not data_applies(entry, "qsd@sid", get_profile("11.1"))
    versioned = {**entry, "profile": {"zero_unmap_own_discard": False}}
    assert data_applies(versioned, "qemu-system@bookworm", get_profile("7.2"))
    assert not data_applies(versioned, "qemu-system@sid", get_profile("11.1"))


def test_the_wake_up_case_pins_the_profile_difference() -> None:
    fixture = load(BLOCK_DIR / "cases" / "job-limited-data.json")
    case = next(c for c in fixture.cases if c.id == "job-limited-cancel-after-wake-up-data")
    assert [e for e in case.data if "profile" in e] == [WAKE_UP]


def test_an_unknown_profile_field_is_a_clear_error(tmp_path: Path) -> None:
    raw = json.loads((BLOCK_DIR / "cases" / "job-limited-data.json").read_text())
    raw["cases"][0]["data"] = [{**WAKE_UP, "profile": {"no_such_field": True}}]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(raw))
    with pytest.raises(QconformError, match="no profile field 'no_such_field'"):
        load(broken)
