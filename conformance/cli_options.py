"""Run `qemu-storage-daemon --blockdev ARG` and observe what it made of ARG.

qsd processes its options in order and writes its --pidfile only after all of
them succeeded (its documented ordering), so the pid file appearing is a
positive "accepted"; an exit before that is a rejection with its stderr. The
process is a ManagedProcess (own session, dies with us, reaped, lifetime-
limited) and is stopped as soon as the verdict is known. It runs in an empty
private folder, so a relative file name in an argument never names a real file.

fixtures/keyval/cases.json holds hand-written arguments with what the binary
did; compare() judges an observation against the oracle's prediction.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.process import ManagedProcess, StartError
from reference.qapi.blockdev_option import Outcome, error_line

REPO = Path(__file__).resolve().parent.parent
KEYVAL_CASES = REPO / "fixtures" / "keyval" / "cases.json"

PROGRAM = "qemu-storage-daemon"
START_TIMEOUT = 10.0  # generous: a loaded CI machine, and qsd fails in milliseconds
LIFETIME = 30.0

ACCEPTED = "accepted"
REJECTED = "rejected"  # exited with a status, not a crash
CRASHED = "crashed"
TIMEOUT = "timeout"


@dataclass(frozen=True)
class Observation:
    argument: str
    status: str  # accepted | rejected | crashed | timeout
    exit_code: int | None = None
    stderr: str = ""  # lines joined with " | " (ManagedProcess.stderr_tail)

    def describe(self) -> str:
        detail = f" (exit {self.exit_code})" if self.exit_code is not None else ""
        return f"{self.status}{detail}: {self.stderr or '(no stderr)'}"


def find_qsd() -> str | None:
    return shutil.which(PROGRAM)


def run_blockdev(binary: str, argument: str) -> Observation:
    """Start qsd with one --blockdev argument, wait for the verdict, stop it."""
    workdir = Path(tempfile.mkdtemp(prefix="qcf-kv-"))
    pidfile = workdir / "qsd.pid"
    proc = ManagedProcess(
        ["env", "-C", str(workdir), binary, "--pidfile", str(pidfile), "--blockdev", argument],
        name="qsd-blockdev",
        ready=lambda: _written(pidfile),
        start_timeout=START_TIMEOUT,
        lifetime=LIFETIME,
    )
    try:
        proc.start()
    except StartError:
        return _ended(proc, argument)
    finally:
        proc.stop(grace=2.0)
        shutil.rmtree(workdir, ignore_errors=True)
    return Observation(argument, ACCEPTED, stderr=_stderr(proc))


def _written(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _stderr(proc: ManagedProcess) -> str:
    text = proc.stderr_tail(limit=1_000_000)
    return "" if text == "(no stderr)" else text


def _ended(proc: ManagedProcess, argument: str) -> Observation:
    status = proc.exit_status()
    if status.signal in (signal.SIGTERM, signal.SIGKILL):  # stopped by us at the start deadline
        return Observation(argument, TIMEOUT, stderr=_stderr(proc))
    crash = proc.crash_report()
    return Observation(argument, CRASHED if crash else REJECTED, status.code, _stderr(proc))


def run_many(binary: str, arguments: Sequence[str], workers: int = 8) -> list[Observation]:
    """Run each argument in its own qsd, several at a time; results in argument order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda arg: run_blockdev(binary, arg), arguments))


def compare(predicted: Outcome, observed: Observation) -> str | None:
    """None when the observation is one the prediction allows, else why not."""
    if observed.status == ACCEPTED and predicted.accepted:
        return None
    if observed.status == REJECTED and not predicted.accepted and observed.stderr in predicted.lines:
        return None
    expected = "accepted" if predicted.accepted else " or ".join(sorted(predicted.lines))
    return f"expected {expected}; observed {observed.describe()}"


@dataclass(frozen=True)
class KeyvalCase:
    id: str
    description: str
    input: str
    parse: Any  # {"tree": JSON tree} or {"error": message}
    accepted: bool
    messages: frozenset[str]  # every message QEMU may print; empty when accepted

    def expected(self) -> Outcome:
        lines = frozenset(error_line(self.input, m) for m in self.messages)
        return Outcome(self.accepted, lines)


def load_keyval_cases(path: Path = KEYVAL_CASES) -> list[KeyvalCase]:
    document = json.loads(path.read_text(encoding="utf-8"))
    cases = []
    for entry in document["cases"]:
        qsd = entry["qsd"]
        accepted = bool(qsd.get("accepted", False))
        messages = frozenset(qsd.get("error_alternatives", [qsd["error"]] if "error" in qsd else []))
        if accepted == bool(messages):
            raise ValueError(f"{path}: case {entry['id']}: 'qsd' must be accepted or an error")
        cases.append(
            KeyvalCase(entry["id"], entry["description"], entry["input"], entry["parse"], accepted, messages)
        )
    return cases
