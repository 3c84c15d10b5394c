"""Running one case on one implementation: predict, drive the wire, compare."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from reference.qobject.json_writer import to_json

from conformance.cases import SYNC_ID, QmpCase
from conformance.compare import first_difference, from_fixture, matches, parse_line, qobject_matches_line
from conformance.divergences import Divergence
from conformance.implementations import Implementation, Instance, QmpStream
from conformance.process import StartError
from conformance.snapshots import model_from_file
from conformance.transport import ReadTimeout
from reference.qmp.transcript import Transcript, negotiation_line, predict

QUIET = 0.3  # silence that ends a read when no reply is due

PASS, DIVERGE, CRASH, TIMEOUT, SKIP, ERROR = "pass", "diverge", "crash", "timeout", "skip", "error"


@dataclass
class Result:
    case: str
    group: str
    implementation: str
    version: str
    status: str
    detail: str = ""
    expected: list[str] = field(default_factory=list)
    observed: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    seconds: float = 0.0
    known: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class InstancePool:
    """One running instance per implementation, replaced when it dies."""

    def __init__(self) -> None:
        self._instances: dict[str, Instance] = {}

    def get(self, impl: Implementation) -> Instance:
        instance = self._instances.get(impl.name)
        if instance is None or not instance.alive():
            if instance is not None:
                instance.stop()
            instance = impl.launch()
            self._instances[impl.name] = instance
        return instance

    def discard(self, impl: Implementation) -> None:
        instance = self._instances.pop(impl.name, None)
        if instance is not None:
            instance.stop()

    def close(self) -> None:
        for instance in self._instances.values():
            instance.stop()
        self._instances.clear()


def oracle_prediction(case: QmpCase, impl: Implementation) -> Transcript:
    model = model_from_file(impl.snapshot_path, impl.profile, exact_identity=impl.exact_identity)
    return predict(model, case.wire_segments(), negotiate=case.negotiate, capabilities=case.capabilities)


@dataclass
class Expectation:
    """What to read and how to judge it, whichever source it came from."""

    lines: list[Any]  # Message (predicted) or a comparable fixture value
    judge: Callable[[Any, bytes], bool]
    render: Callable[[Any], str]
    skip_leading: int  # observed lines not judged (greeting, negotiation) for fixed expectations
    sync_due: bool
    close_due: bool


def _is_sync(body: Any) -> bool:
    return isinstance(body, dict) and body.get("id") == SYNC_ID


def expectation_for(case: QmpCase, transcript: Transcript | None) -> Expectation:
    if case.expect is not None:
        lines = [from_fixture(item) for item in case.expect]
        return Expectation(
            lines=lines,
            judge=lambda exp, line: matches(exp, parse_line(line)),
            render=lambda exp: json.dumps(exp, default=str),
            skip_leading=2 if case.negotiate else 1,
            sync_due=any(_is_sync(item) for item in case.expect),
            close_due=False,
        )
    assert transcript is not None
    return Expectation(
        lines=list(transcript.messages),
        judge=lambda msg, line: any(qobject_matches_line(c, line) for c in msg.candidates()),
        render=lambda msg: " | ".join(to_json(c) for c in msg.candidates()),
        skip_leading=0,
        sync_due=any(m.body.get("id") == SYNC_ID for m in transcript.messages),
        close_due=transcript.closed,
    )


def _converse(stream: QmpStream, case: QmpCase, exp: Expectation, timeout: float) -> tuple[list[bytes], str]:
    """Drive the case on the wire; return the lines read and how reading ended."""
    lines: list[bytes] = []
    greeting = stream.read_line(timeout)
    if greeting is None:
        return lines, "eof"
    lines.append(greeting)
    prologue = [negotiation_line(case.capabilities)] if case.negotiate else []
    for chunk in prologue:
        stream.send(chunk)
        reply = stream.read_line(timeout)
        if reply is None:
            return lines, "eof"
        lines.append(reply)
    for chunk in case.wire_segments():
        stream.send(chunk)
    waiting = exp.sync_due or exp.close_due
    while True:
        try:
            line = stream.read_line(timeout if waiting else QUIET)
        except ReadTimeout:
            return lines, "timeout" if waiting else "quiet"
        if line is None:
            return lines, "eof"
        lines.append(line)
        if b'"id": "qconform-sync"' in line and exp.sync_due and not exp.close_due:
            return lines, "sync"


def run_case(
    case: QmpCase,
    impl: Implementation,
    pool: InstancePool,
    known: dict[tuple[str, str], Divergence] | None = None,
    timeout: float = 5.0,
) -> Result:
    started = time.monotonic()
    result = Result(case.id, case.group, impl.name, impl.version, ERROR)
    result.sent = [chunk.decode("utf-8", "backslashreplace") for chunk in case.wire_segments()]
    divergence = (known or {}).get((case.id, impl.name))
    if divergence is not None:
        result.known = {"kind": divergence.kind, "reason": divergence.reason}
    try:
        transcript = None if case.expect is not None else oracle_prediction(case, impl)
        if transcript is not None and transcript.not_modelled:
            result.status, result.detail = SKIP, f"not modelled: {transcript.not_modelled}"
            return result
        exp = expectation_for(case, transcript)
        result.expected = [exp.render(item) for item in exp.lines]
        try:
            instance = pool.get(impl)
        except StartError as err:
            result.status, result.detail = ERROR, f"could not start: {err}"
            return result
        stream = instance.connect()
        try:
            lines, ending = _converse(stream, case, exp, timeout)
        finally:
            stream.close()
        result.observed = [line.decode("utf-8", "backslashreplace").rstrip("\r\n") for line in lines]
        result.status, result.detail = _judge(case, impl, pool, instance, exp, lines, ending)
    except OSError as err:
        result.status, result.detail = ERROR, f"transport: {err}"
        pool.discard(impl)
    finally:
        result.seconds = round(time.monotonic() - started, 4)
    return result


def _judge(
    case: QmpCase,
    impl: Implementation,
    pool: InstancePool,
    instance: Instance,
    exp: Expectation,
    lines: list[bytes],
    ending: str,
) -> tuple[str, str]:
    if ending == "eof" and not exp.close_due:
        # Give a dying process a moment to be reaped, then ask why it left.
        deadline = time.monotonic() + 1.0
        while instance.alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        report = instance.crash_report()
        if report is not None:
            pool.discard(impl)
            return CRASH, report
    judged = lines[exp.skip_leading :]
    difference = first_difference(exp.lines, judged, exp.judge)
    if ending == "timeout":
        return TIMEOUT, f"no sync reply within the read timeout ({difference or 'all expected lines seen'})"
    if difference is not None:
        return DIVERGE, difference
    if exp.close_due and ending != "eof":
        return DIVERGE, "expected the implementation to close the connection"
    return PASS, ""
