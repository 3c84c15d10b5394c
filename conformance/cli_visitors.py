"""qemu-system-x86_64 against the opts visitor and the string input visitor.

Two ways in:

- run_option(): `qemu-system-x86_64 -M none -nodefaults -S -display none
  OPTION ARG` (plus the -netdev witness, see reference.qapi.system_cli) in an
  empty private folder. QEMU must exit with status 1 and the stderr the oracle
  predicts; a run still alive after START_TIMEOUT is a "timeout". One process
  per argument (about 30 ms each), a few at a time.
- HmpBatch: one qemu-system with the targets' objects, driven over QMP with
  human-monitor-command; each value is set, its output compared, and after a
  success its value read back (qom-get, query-migrate-parameters).

Every host process is a ManagedProcess (own session, dies with us, lifetime
limit, crash check, reaped); for a SystemTarget with an image a batch of runs
shares one container (conformance.containers: --network none, under timeout,
reaped), each run's exit status and stderr landing in its bind-mounted folder. HMP sessions
reuse conformance.hmp.HmpSession.
fixtures/cli-visitors/cases.json holds hand-written cases with what the
binary did.
"""

from __future__ import annotations

import itertools
import json
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from conformance.errors import QconformError
from conformance.hmp import HmpSession, QmpFailure, SystemTarget
from conformance.process import ABORT_MARKERS, ManagedProcess, StartError, socket_dir
from reference.qapi.hmp_property import SESSION_OBJECTS, TARGETS, HmpOutcome, Json, Target
from reference.qapi.system_cli import OptionOutcome, argv

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "fixtures" / "cli-visitors" / "cases.json"
CASES_SCHEMA = CASES.with_name("cases.schema.json")
MACHINE = ("-M", "none", "-nodefaults", "-no-user-config", "-S", "-display", "none")
START_TIMEOUT = 10.0  # QEMU rejects in milliseconds; a run still alive by then was accepted
LIFETIME = 30.0

REJECTED = "rejected"
TIMEOUT = "timeout"
CRASHED = "crashed"


@dataclass(frozen=True)
class OptionObservation:
    option: str
    argument: str
    status: str  # rejected | timeout | crashed
    exit_code: int | None
    stderr: str  # lines joined with " | " (ManagedProcess.stderr_tail)

    def describe(self) -> str:
        return f"{self.status} (exit {self.exit_code}): {self.stderr or '(no stderr)'}"


def run_option(binary: str | SystemTarget, option: str, argument: str) -> OptionObservation:
    """Start qemu-system with one option under test and wait until it exits."""
    if isinstance(binary, SystemTarget):
        if binary.image is not None:
            return _run_options_in_container(binary.image, binary.program, [(option, argument)])[0]
        binary = binary.program
    workdir = Path(tempfile.mkdtemp(prefix="qcf-cv-"))
    proc = ManagedProcess(
        ["env", "-C", str(workdir), binary, *MACHINE, *argv(option, argument)],
        name="qemu-system-option",
        ready=lambda: False,  # only an exit ends the wait
        start_timeout=START_TIMEOUT,
        lifetime=LIFETIME,
    )
    timed_out = False
    try:
        proc.start()
    except StartError as err:
        timed_out = "not ready" in str(err)  # stopped by us: QEMU kept running
    finally:
        proc.stop(grace=2.0)
        shutil.rmtree(workdir, ignore_errors=True)
    status = proc.exit_status()
    stderr = proc.stderr_tail(limit=1_000_000)
    stderr = "" if stderr == "(no stderr)" else stderr
    if timed_out:
        return OptionObservation(option, argument, TIMEOUT, status.code, stderr)
    kind = CRASHED if proc.crash_report() else REJECTED
    return OptionObservation(option, argument, kind, status.code, stderr)


def _run_options_in_container(
    image: str, program: str, items: Sequence[tuple[str, str]]
) -> list[OptionObservation]:
    """Every item in one container, one after the other: a container costs most of a second to
    start, a rejecting QEMU a few milliseconds. A script in the shared folder runs each under its
    own timeout and leaves its status (128+N after signal N, 124 on timeout) and stderr there."""
    from conformance.containers import MOUNT, Container

    folder = socket_dir()
    lines = ["cd " + MOUNT]
    for index, (option, argument) in enumerate(items):
        words = " ".join(shlex.quote(word) for word in [program, *MACHINE, *argv(option, argument)])
        lines.append(f"timeout -k 1 {START_TIMEOUT:g} {words} 2>{index}.err; echo $? >{index}.status")
    lines.append("touch done")
    (folder / "run.sh").write_text("\n".join(lines) + "\n", encoding="utf-8")
    budget = 10 + (START_TIMEOUT + 2) * len(items)
    try:
        Container(
            "qemu-system-options", image, ["sh", f"{MOUNT}/run.sh"], (folder / "done").exists,
            folder=folder, start_timeout=budget, lifetime=int(budget) + 30,
        ).stop()  # fmt: skip
        results = [
            (
                int((folder / f"{i}.status").read_text().strip()),
                (folder / f"{i}.err").read_text(errors="replace"),
            )
            for i in range(len(items))
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    observations = []
    for (option, argument), (code, text) in zip(items, results, strict=True):
        stderr = " | ".join(text.strip().splitlines())
        if code == 124:
            observations.append(OptionObservation(option, argument, TIMEOUT, None, stderr))
            continue
        signalled = code > 128
        crashed = signalled or any(marker in stderr for marker in ABORT_MARKERS)
        # As on the host (process.Exit): a process killed by a signal has no exit code.
        kind = CRASHED if crashed else REJECTED
        observations.append(OptionObservation(option, argument, kind, None if signalled else code, stderr))
    return observations


def run_options(
    binary: str | SystemTarget, items: Sequence[tuple[str, str]], workers: int = 4
) -> list[OptionObservation]:
    if isinstance(binary, SystemTarget) and binary.image is not None:
        return _run_options_in_container(binary.image, binary.program, items) if items else []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda item: run_option(binary, *item), items))


def compare_option(predicted: OptionOutcome, observed: OptionObservation) -> str | None:
    """None when QEMU printed one of the predicted stderrs and exited with 1."""
    joined = {" | ".join(lines) for lines in predicted.stderr}
    if observed.status == REJECTED and observed.exit_code == 1 and observed.stderr in joined:
        return None
    return f"expected {' or '.join(sorted(joined))}; observed {observed.describe()}"


@dataclass(frozen=True)
class HmpObservation:
    target: str
    value: str
    output: tuple[str, ...]
    readback: Json | None  # read only when the output has no error


class HmpBatch:
    """One qemu-system for many HMP property sets; a context manager."""

    def __init__(self, binary: str | SystemTarget) -> None:
        self.session = HmpSession(binary, "none", SESSION_OBJECTS, name="qemu-system-siv")
        self._ids = itertools.count()

    def __enter__(self) -> HmpBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.stop()

    def set(self, target: Target, value: str) -> HmpObservation:
        command = target.command
        readback = target.readback[1]
        made = None
        if target.fresh_object:
            made = f"hn{next(self._ids)}"
            self.session.execute(
                "object-add", {"qom-type": "memory-backend-ram", "id": made, "size": 1 << 20}
            )
            command = command.format(object=f"/objects/{made}")
            readback = readback.format(object=f"/objects/{made}")
        try:
            text = self.session.execute("human-monitor-command", {"command-line": f"{command} {value}"})
            output = tuple(str(text).replace("\r\n", "\n").splitlines())
            read = (
                None if any(line.startswith("Error: ") for line in output) else self._read(target, readback)
            )
        finally:
            if made is not None:
                self.session.execute("object-del", {"id": made})
        return HmpObservation(target.name, value, output, read)

    def _read(self, target: Target, where: str) -> Json:
        if target.readback[0] == "qom":
            path, prop = where.split()
            value: Any = self.session.execute("qom-get", {"path": path, "property": prop})
        else:
            value = self.session.execute("query-migrate-parameters")[where]
        return value  # type: ignore[no-any-return]

    def crash_report(self) -> str | None:
        return self.session.crash_report()


def run_hmp(binary: str | SystemTarget, items: Sequence[tuple[Target, str]]) -> list[HmpObservation]:
    """Every item in one qemu-system; a crash or a broken monitor is a QconformError."""
    with HmpBatch(binary) as batch:
        observations = []
        for target, value in items:
            try:
                observations.append(batch.set(target, value))
            except QmpFailure as err:
                crash = batch.crash_report()
                raise QconformError(f"{target.command} {value!r}: {crash or err}") from None
        return observations


def compare_hmp(predicted: HmpOutcome, observed: HmpObservation) -> str | None:
    if predicted.output == observed.output and predicted.value == observed.readback:
        return None
    return (
        f"expected {list(predicted.output)} reading back {predicted.value!r}; "
        f"observed {list(observed.output)} reading back {observed.readback!r}"
    )


# --- the hand-written corpus ------------------------------------------------------------------


@dataclass(frozen=True)
class OptionCase:
    id: str
    description: str
    option: str
    argument: str
    stderr: tuple[str, ...]  # what qemu-system 7.2 printed (exit status 1)
    versions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # later versions that differ
    unmodelled: dict[str, str] = field(default_factory=dict)  # profile name: why the oracle abstains

    def stderr_on(self, profile: str) -> tuple[str, ...]:
        return self.versions.get(profile, self.stderr)


@dataclass(frozen=True)
class HmpCase:
    id: str
    description: str
    target: Target
    value: str
    output: tuple[str, ...]
    readback: Json | None
    versions: dict[str, tuple[tuple[str, ...], Json | None]] = field(default_factory=dict)
    unmodelled: dict[str, str] = field(default_factory=dict)

    def outcome_on(self, profile: str) -> tuple[tuple[str, ...], Json | None]:
        return self.versions.get(profile, (self.output, self.readback))


def load_cases(path: Path = CASES) -> tuple[list[OptionCase], list[HmpCase]]:
    """The corpus; a broken file is a QconformError naming the case."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(json.loads(CASES_SCHEMA.read_text(encoding="utf-8"))).validate(
            document
        )
    except jsonschema.ValidationError as err:
        where = "/".join(str(part) for part in err.absolute_path)
        raise QconformError(f"{path}: at '{where}': {err.message}") from None
    except (OSError, ValueError) as err:
        raise QconformError(f"{path}: {err}") from None
    options: list[OptionCase] = []
    hmps: list[HmpCase] = []
    seen: set[str] = set()
    for entry in document.get("cases", []):
        if entry["id"] in seen:
            raise QconformError(f"{path}: case id {entry['id']!r} appears twice")
        seen.add(entry["id"])
        try:
            if "option" in entry:
                options.append(
                    OptionCase(
                        entry["id"],
                        entry["description"],
                        entry["option"],
                        entry["argument"],
                        tuple(entry["stderr"]),
                        {v: tuple(o["stderr"]) for v, o in entry.get("versions", {}).items()},
                        entry.get("unmodelled", {}),
                    )
                )
            else:
                target = TARGETS[entry["hmp"]]
                later = {v: (tuple(o["output"]), o["readback"]) for v, o in entry.get("versions", {}).items()}
                hmps.append(
                    HmpCase(
                        entry["id"], entry["description"], target, entry["value"],
                        tuple(entry["output"]), entry["readback"],
                        later, entry.get("unmodelled", {}),
                    )
                )  # fmt: skip
        except (KeyError, TypeError) as err:
            raise QconformError(f"{path}: case {entry.get('id', '?')!r}: missing or unknown {err}") from None
    return options, hmps
