"""A divergence marked intermittent (a race) may agree on some runs; any other one must keep showing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.divergences import load_divergences
from conformance.pytest_plugin import check_result
from conformance.runner import CRASH, PASS, Result


def _table(tmp_path: Path, **extra: object) -> Path:
    entry = {"case": "c", "implementations": ["i"], "kind": "implementation-bug", "reason": "r", **extra}
    path = tmp_path / "divergences.json"
    path.write_text(json.dumps({"divergences": [entry]}), encoding="utf-8")
    return path


def _result(status: str, known: dict[str, object]) -> Result:
    return Result("c", "g", "i", "1", status, known=known)


def test_the_flag_is_read(tmp_path: Path) -> None:
    assert load_divergences(_table(tmp_path, intermittent=True))[("c", "i")].intermittent
    assert not load_divergences(_table(tmp_path))[("c", "i")].intermittent


def test_an_intermittent_divergence_that_agrees_passes() -> None:
    check_result(_result(PASS, {"kind": "implementation-bug", "reason": "r", "intermittent": True}))


def test_a_steady_divergence_that_agrees_fails() -> None:
    with pytest.raises(pytest.fail.Exception, match="no longer happens"):
        check_result(_result(PASS, {"kind": "implementation-bug", "reason": "r"}))


def test_an_intermittent_divergence_that_shows_is_an_xfail() -> None:
    with pytest.raises(pytest.xfail.Exception):
        check_result(_result(CRASH, {"kind": "implementation-bug", "reason": "r", "intermittent": True}))
