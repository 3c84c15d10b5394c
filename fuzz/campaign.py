"""Fuzz campaigns that can be stopped and resumed without losing anything.

A campaign lives in one folder: corpus/ (libFuzzer adds each new input as it
finds it, so an interrupted run keeps its progress), findings/ (crash and
violation reproducers), and campaign.json (targets, total seconds run). Run
the same command again to resume.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.cases import load_cases
from conformance.errors import QconformError


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    description: str


TARGETS = {
    "qmp-monitor": Target("qmp-monitor", "fuzz.qmp_monitor", "bytes into the reference QMP monitor"),
}


def seed_corpus(corpus: Path) -> int:
    """Seed an empty corpus with the bytes every QMP case sends."""
    if any(corpus.iterdir()):
        return 0
    count = 0
    for case in load_cases():
        (corpus / case.id).write_bytes(b"".join(case.segments))
        count += 1
    return count


def _state_file(folder: Path) -> Path:
    return folder / "campaign.json"


def run_campaign(target_name: str, folder: Path, seconds: int, extra: list[str] | None = None) -> int:
    target = TARGETS.get(target_name)
    if target is None:
        raise QconformError(f"unknown fuzz target {target_name!r} (known: {', '.join(TARGETS)})")
    if seconds <= 0:
        raise QconformError("--seconds must be positive")
    if importlib.util.find_spec("atheris") is None:
        raise QconformError("atheris is not installed (pip install 'qconform[fuzz]')")
    corpus, findings = folder / "corpus", folder / "findings"
    try:
        corpus.mkdir(parents=True, exist_ok=True)
        findings.mkdir(exist_ok=True)
    except OSError as err:
        raise QconformError(f"{folder}: cannot create campaign folder: {err.strerror}") from None
    state_path = _state_file(folder)
    state: dict[str, Any] = {"target": target.name, "seconds": 0}
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise QconformError(f"{state_path}: unreadable campaign state: {err}") from None
    if state["target"] != target.name:
        raise QconformError(f"{folder} holds a {state['target']} campaign, not {target.name}")
    seeded = seed_corpus(corpus)
    if seeded:
        print(f"fuzz: seeded {corpus} with {seeded} inputs from fixtures/qmp")
    argv = [
        sys.executable, "-m", target.module,
        f"-max_total_time={seconds}", f"-artifact_prefix={findings}/", "-print_final_stats=1",
        *(extra or []), str(corpus),
    ]  # fmt: skip
    started = time.monotonic()
    try:
        completed = subprocess.run(argv, timeout=seconds + 120, check=False)
        status = completed.returncode
    except KeyboardInterrupt:
        status = 130
        print("fuzz: interrupted; corpus and findings are kept, run again to resume", file=sys.stderr)
    except subprocess.TimeoutExpired:
        status = 124
    finally:
        state["seconds"] += int(time.monotonic() - started)
        state_path.write_text(json.dumps(state, indent=1) + "\n")
    found = sorted(p.name for p in findings.iterdir())
    print(f"fuzz: {target.name}: {state['seconds']} s in total, corpus {len(list(corpus.iterdir()))} inputs")
    for name in found:
        print(f"fuzz: finding {findings / name}")
    return 1 if found else (0 if status in (0, 130) else status)


REGRESSIONS = Path(__file__).resolve().parent.parent / "fixtures" / "qmp" / "fuzz-regressions.json"


def promote(finding: Path, case_id: str, description: str, target: Path = REGRESSIONS) -> None:
    """Turn a fuzz finding into a QMP case (the oracle predicts; every implementation runs it)."""
    try:
        data = finding.read_bytes()
    except OSError as err:
        raise QconformError(f"{finding}: cannot read: {err.strerror or err}") from None
    document: dict[str, Any] = {
        "group": "fuzz-regressions",
        "description": "Inputs the fuzzer found, kept as cases",
        "cases": [],
    }
    if target.exists():
        document = json.loads(target.read_text(encoding="utf-8"))
    if any(case["id"] == case_id for case in document["cases"]):
        raise QconformError(f"{target}: case id {case_id!r} exists already")
    # Resynchronise after the input so the harness's sync line is always parsed.
    send = [{"hex": data.hex()}, {"hex": "ff0a"}]
    document["cases"].append({"id": case_id, "description": description, "send": send, "expect": "predict"})
    target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
