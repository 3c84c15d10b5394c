"""The fuzz target runs for real (briefly) and its campaign keeps what it found."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.qmp_monitor import Violation, load_model, one_input

REPO = Path(__file__).resolve().parents[2]


def test_case_inputs_keep_the_oracle_well_formed() -> None:
    from conformance.cases import load_cases

    model = load_model()
    for case in load_cases():
        model.running = True
        one_input(model, b"".join(case.segments))


def test_an_unanswered_resync_is_a_violation(monkeypatch: pytest.MonkeyPatch) -> None:
    import fuzz.qmp_monitor as target

    monkeypatch.setattr(target, "RESYNC", b"\xff\n")
    with pytest.raises(Violation):
        one_input(load_model(), b"")


@pytest.mark.slow
def test_atheris_campaign_runs_and_resumes(tmp_path: Path) -> None:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "conformance.cli", "fuzz", "--dir", str(tmp_path), "--seconds", "3"],
            cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip

    from conformance.cases import load_cases

    first = run()
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    corpus = list((tmp_path / "corpus").iterdir())
    assert len(corpus) >= len(load_cases())  # seeded, then grown
    spent = json.loads((tmp_path / "campaign.json").read_text())["seconds"]
    second = run()
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert len(list((tmp_path / "corpus").iterdir())) >= len(corpus)
    assert json.loads((tmp_path / "campaign.json").read_text())["seconds"] > spent
    assert list((tmp_path / "findings").iterdir()) == []
