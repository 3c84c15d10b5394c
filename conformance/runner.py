"""Running one case on one implementation: predict, drive the wire, compare."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from conformance.cases import SYNC_ID, QmpCase
from conformance.compare import (
    first_difference,
    from_fixture,
    has_wildcard,
    matches,
    parse_line,
    qobject_matches_line,
    transcript_matches,
)
from conformance.divergences import Divergence
from conformance.implementations import Implementation, Instance, QmpStream
from conformance.process import StartError
from conformance.snapshots import model_from_file
from conformance.transport import ReadTimeout
from reference.qmp.outputs import Message
from reference.qmp.transcript import Transcript, negotiation_line, predict
from reference.qobject.json_writer import to_json

QUIET = 0.3  # silence that ends a read when no reply is due
MAX_LINES = 10_000  # an implementation that babbles is cut off here

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
    setup: str = ""  # what comes before `sent` (empty: connect and negotiate, as QMP cases do)
    rerun: str = ""  # a command that runs the case again (empty: none)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class InstancePool:
    """One running instance per implementation, replaced when it dies.

    A death noticed only when the next case starts is reported with that case
    (the previous case on the same instance is the likely cause).
    """

    def __init__(self) -> None:
        self._instances: dict[str, Instance] = {}
        self.unreported_crash: dict[str, str] = {}

    def get(self, impl: Implementation) -> Instance:
        instance = self._instances.get(impl.name)
        if instance is None or not instance.alive():
            if instance is not None:
                report = instance.crash_report()
                if report is not None:
                    self.unreported_crash[impl.name] = report
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
    prologue: int  # greeting and negotiation reply
    predicted: bool
    sync_due: bool
    close_due: bool
    survives_only: bool = False

    def difference(self, observed: list[bytes]) -> str | None:
        if self.survives_only:
            answered = any(b'"id": "qconform-sync"' in line for line in observed)
            return None if answered else "the sync line was never answered"
        if not self.predicted:
            return first_difference(self.lines, observed[self.prologue :], self.judge)
        if transcript_matches(self.lines, observed, self.prologue, self.judge):
            return None
        in_order = first_difference(self.lines, observed, self.judge)
        return in_order or "replies in an order QEMU cannot produce"


def expectation_for(case: QmpCase, transcript: Transcript | None) -> Expectation:
    prologue = 2 if case.negotiate else 1
    if case.survives_only:
        return Expectation(
            lines=[],
            judge=lambda exp, line: True,
            render=str,
            prologue=prologue,
            predicted=False,
            sync_due=True,
            close_due=False,
            survives_only=True,
        )
    if case.expect is not None:
        return Expectation(
            lines=[from_fixture(item) for item in case.expect],
            judge=lambda exp, line: matches(exp, parse_line(line)),
            render=lambda exp: json.dumps(exp, default=str),
            prologue=prologue,
            predicted=False,
            sync_due=any(isinstance(item, dict) and item.get("id") == SYNC_ID for item in case.expect),
            close_due=False,
        )
    assert transcript is not None
    return Expectation(
        lines=[PredictedLine.of(message) for message in transcript.messages],
        judge=PredictedLine.judge,
        render=PredictedLine.render,
        prologue=prologue,
        predicted=True,
        sync_due=any(m.body.get("id") == SYNC_ID for m in transcript.messages),
        close_due=transcript.closed,
    )


@dataclass(frozen=True)
class PredictedLine:
    """A predicted message with its candidates rendered once, as QEMU would write them."""

    message: Message
    texts: tuple[bytes, ...]
    exact: bool  # no wildcards: the line must match a text byte for byte

    @classmethod
    def of(cls, message: Message) -> PredictedLine:
        candidates = message.candidates()
        exact = not any(has_wildcard(c) for c in candidates)
        return cls(message, tuple(to_json(c).encode("utf-8") for c in candidates), exact)

    @property
    def out_of_band(self) -> bool:
        return self.message.out_of_band

    def judge(self, line: bytes) -> bool:
        if self.exact:
            return line.rstrip(b"\r\n") in self.texts
        return any(qobject_matches_line(c, line) for c in self.message.candidates())

    def render(self) -> str:
        text = " | ".join(t.decode("utf-8") for t in self.texts)
        return f"{text}  (out of band: may come earlier)" if self.out_of_band else text


def _converse(stream: QmpStream, case: QmpCase, exp: Expectation, timeout: float) -> tuple[list[bytes], str]:
    """Drive the case on the wire; return the lines read and how reading ended."""
    deadline = time.monotonic() + 3 * timeout
    lines: list[bytes] = []

    def read(wait: float) -> bytes | None:
        return stream.read_line(max(0.001, min(wait, deadline - time.monotonic())))

    try:
        greeting = read(timeout)
        if greeting is None:
            return lines, "eof"
        lines.append(greeting)
        if case.negotiate:
            stream.send(negotiation_line(case.capabilities))
            reply = read(timeout)
            if reply is None:
                return lines, "eof"
            lines.append(reply)
        for chunk in case.wire_segments():
            stream.send(chunk)
        waiting = exp.sync_due or exp.close_due
        while len(lines) < MAX_LINES:
            line = read(timeout if waiting else QUIET)
            if line is None:
                return lines, "eof"
            lines.append(line)
            if b'"id": "qconform-sync"' in line and exp.sync_due and not exp.close_due:
                return lines, "sync"
        return lines, "babble"
    except ReadTimeout:
        if not waiting_for_reply(lines, exp):
            return lines, "quiet"
        return lines, "timeout"


def waiting_for_reply(lines: list[bytes], exp: Expectation) -> bool:
    """Whether silence now means a hang (a reply or the end of stream was due)."""
    return len(lines) < exp.prologue or exp.sync_due or exp.close_due


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
        if divergence.intermittent:
            result.known["intermittent"] = True
    try:
        predicting = case.expect is None and not case.survives_only
        transcript = oracle_prediction(case, impl) if predicting else None
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
        earlier_crash = pool.unreported_crash.pop(impl.name, None)
        if earlier_crash is not None:
            result.status = CRASH
            result.detail = f"the process died after the previous case on it: {earlier_crash}"
            return result
        stream = instance.connect()
        try:
            lines, ending = _converse(stream, case, exp, timeout)
        finally:
            stream.close()
        result.observed = [line.decode("utf-8", "backslashreplace").rstrip("\r\n") for line in lines]
        result.status, result.detail = _judge(impl, pool, instance, exp, lines, ending)
    except OSError as err:
        result.status, result.detail = ERROR, f"transport: {err}"
        pool.discard(impl)
    finally:
        result.seconds = round(time.monotonic() - started, 4)
    return result


def _wait_for_exit(instance: Instance, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while instance.alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    return not instance.alive()


def _judge(
    impl: Implementation,
    pool: InstancePool,
    instance: Instance,
    exp: Expectation,
    lines: list[bytes],
    ending: str,
) -> tuple[str, str]:
    if ending == "eof" and not exp.close_due:
        # Give a dying process a moment to be reaped, then ask why it left.
        _wait_for_exit(instance, 1.0)
        report = instance.crash_report()
        if report is not None:
            pool.discard(impl)
            return CRASH, report
    if exp.close_due:
        # The process should be leaving; the next case needs a fresh one either way.
        exited = _wait_for_exit(instance, 5.0)
        report = instance.crash_report()
        pool.discard(impl)
        if report is not None:
            return CRASH, report
        if not exited:
            return DIVERGE, "the process did not exit after closing the connection"
    difference = exp.difference(lines)
    if ending in ("timeout", "babble"):
        # A wedged or babbling instance would spoil the next case: replace it.
        pool.discard(impl)
        what = "no reply within the read timeout" if ending == "timeout" else f"more than {MAX_LINES} lines"
        return TIMEOUT, f"{what} ({difference or 'all expected lines seen'})"
    if difference is not None:
        if ending == "eof" and not instance.alive():
            difference += " (the process exited)"
        return DIVERGE, difference
    if exp.close_due and ending != "eof":
        return DIVERGE, "expected the implementation to close the connection"
    return PASS, ""
