"""Fuzz campaigns that can be stopped and resumed without losing anything.

A campaign lives in one folder: corpus/ (libFuzzer adds each new input as it
finds it, so an interrupted run keeps its progress), findings/ (crash and
violation reproducers), and campaign.json (targets, total seconds run). Run
the same command again to resume.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.cases import load_cases
from conformance.errors import QconformError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _qmp_seeds() -> Iterator[tuple[str, bytes]]:
    for case in load_cases():
        yield case.id, b"".join(case.segments)


def _keyval_seeds() -> Iterator[tuple[str, bytes]]:
    document = json.loads((FIXTURES / "keyval" / "cases.json").read_text(encoding="utf-8"))
    for case in document["cases"]:
        yield case["id"], case["input"].encode("utf-8")


def _schema_seeds() -> Iterator[tuple[str, bytes]]:
    for path in sorted((FIXTURES / "qapi-schema").rglob("*.json")):
        yield f"{path.parent.name}-{path.stem}", path.read_bytes()


def _nbd_seeds() -> Iterator[tuple[str, bytes]]:
    from fuzz.nbd_server import seed_inputs

    for index, data in enumerate(seed_inputs()):
        yield f"script-{index:02d}", data


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    description: str
    seeds: Callable[[], Iterator[tuple[str, bytes]]]
    needs_implementation: bool = False


TARGETS = {
    t.name: t
    for t in (
        Target("qmp-monitor", "fuzz.qmp_monitor", "bytes into the reference QMP monitor", _qmp_seeds),
        Target(
            "qmp-differential",
            "fuzz.qmp_differential",
            "bytes into the oracle and a live, isolated QEMU, answers compared",
            _qmp_seeds,
            needs_implementation=True,
        ),
        Target(
            "keyval-blockdev", "fuzz.keyval_blockdev", "text into the --blockdev prediction", _keyval_seeds
        ),
        Target("qapi-schema", "fuzz.qapi_schema", "text into the QAPI schema front end", _schema_seeds),
        Target(
            "nbd-server", "fuzz.nbd_server", "client conversations into the reference NBD server", _nbd_seeds
        ),
    )
}
DEFAULT_IMPLEMENTATION = "qsd@bookworm"


def seed_corpus(target: Target, corpus: Path) -> int:
    """Seed an empty corpus with the target's fixture inputs."""
    if any(corpus.iterdir()):
        return 0
    count = 0
    for name, data in target.seeds():
        (corpus / name).write_bytes(data)
        count += 1
    return count


def _state_file(folder: Path) -> Path:
    return folder / "campaign.json"


def run_campaign(
    target_name: str,
    folder: Path,
    seconds: int,
    extra: list[str] | None = None,
    implementation: str | None = None,
) -> int:
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
    if target.needs_implementation:
        state["implementation"] = implementation or DEFAULT_IMPLEMENTATION
    elif implementation is not None:
        raise QconformError(
            f"the {target.name} target runs no implementation (--impl is for qmp-differential)"
        )
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise QconformError(f"{state_path}: unreadable campaign state: {err}") from None
    if state.get("target") != target.name:
        raise QconformError(f"{folder} holds a {state.get('target')} campaign, not {target.name}")
    if implementation is not None and state.get("implementation") != implementation:
        raise QconformError(f"{folder} fuzzes {state.get('implementation')}, not {implementation}")
    if target.needs_implementation:
        from fuzz.qmp_differential import choose_implementation

        choose_implementation(state["implementation"])  # a wrong or unsafe one fails here, in one line
    seeded = seed_corpus(target, corpus)
    if seeded:
        print(f"fuzz: seeded {corpus} with {seeded} inputs from fixtures/")
    env = dict(os.environ)
    if target.needs_implementation:
        env.update(QCONFORM_FUZZ_IMPL=state["implementation"], QCONFORM_FUZZ_FINDINGS=str(findings))
    argv = [
        sys.executable, "-m", target.module,
        f"-max_total_time={seconds}", f"-artifact_prefix={findings}/", "-print_final_stats=1",
        *(extra or []), str(corpus),
    ]  # fmt: skip
    started = time.monotonic()
    try:
        completed = subprocess.run(argv, timeout=seconds + 120, check=False, env=env)
        status = completed.returncode
    except KeyboardInterrupt:
        status = 130
        print("fuzz: interrupted; corpus and findings are kept, run again to resume", file=sys.stderr)
    except subprocess.TimeoutExpired:
        status = 124
    finally:
        state["seconds"] += int(time.monotonic() - started)
        state_path.write_text(json.dumps(state, indent=1) + "\n")
        if target.needs_implementation:
            _reap_after(state["implementation"])
    found = sorted(p.name for p in findings.iterdir())
    print(f"fuzz: {target.name}: {state['seconds']} s in total, corpus {len(list(corpus.iterdir()))} inputs")
    for name in found:
        print(f"fuzz: finding {findings / name}")
    return 1 if found else (0 if status in (0, 130) else status)


def _reap_after(implementation: str) -> None:
    """libFuzzer ends the target with exit(), which skips Python's cleanup: remove its containers."""
    if "@" not in implementation:
        return  # host processes die with their parent (PR_SET_PDEATHSIG)
    from conformance.containers import reap_orphans

    reap_orphans()


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
