"""The block session after the oracle abstained: no step waits for events nobody predicted.

A scripted stand-in for the implementation answers each command with the
lines a real qsd 7.2 writes (a job's status events around the reply) and
counts how long the session waited on it for lines that never came.
"""

from __future__ import annotations

import json
from collections import deque

from block.test_block_jobs_model import FakeStorage
from conformance.block.session import Session
from conformance.implementations import Implementation, Instance
from conformance.transport import ReadTimeout
from reference.profiles import Flavour, profile_for_version

GREETING = (
    b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}'
)
STAMP = '{"timestamp": {"seconds": 1, "microseconds": 2}, '


def status(job: str, state: str) -> bytes:
    return f'{STAMP}"event": "JOB_STATUS_CHANGE", "data": {{"status": "{state}", "id": "{job}"}}}}'.encode()


class ScriptedStream:
    """Hands out the scripted lines for each command sent; a read with nothing left times out."""

    def __init__(self, answers: dict[str, list[bytes]]) -> None:
        self.answers = answers
        self.lines: deque[bytes] = deque([GREETING])
        self.waited = 0.0  # seconds the session was ready to wait for lines that never came

    def send(self, data: bytes) -> None:
        self.lines.extend(self.answers[json.loads(data)["execute"]])

    def read_line(self, timeout: float | None = None) -> bytes | None:
        if self.lines:
            return self.lines.popleft()
        self.waited += timeout or 0.0
        raise ReadTimeout("nothing more was scripted")

    def close(self) -> None:
        pass


class ScriptedInstance:
    def __init__(self, stream: ScriptedStream) -> None:
        self.stream = stream

    def connect(self) -> ScriptedStream:
        return self.stream

    def alive(self) -> bool:
        return True

    def crash_report(self) -> str | None:
        return None

    def stop(self) -> None:
        pass


def session(stream: ScriptedStream) -> Session:
    profile = profile_for_version(7, 2)
    assert profile is not None
    instance: Instance = ScriptedInstance(stream)
    impl = Implementation("scripted", Flavour.STORAGE_DAEMON, profile, "7.2.0", "scripted", lambda: instance)
    return Session(impl, FakeStorage())


def test_steps_after_an_abstention_do_not_wait_for_unpredicted_job_events() -> None:
    stream = ScriptedStream({
        "qmp_capabilities": [b'{"return": {}}'],
        # blockdev-backup is not modelled: the oracle abstains
        "blockdev-backup": [status("s", "created"), status("s", "running"), b'{"return": {}}'],
        "job-pause": [status("s", "paused"), b'{"return": {}}'],
        "query-jobs": [b'{"return": []}'],
    })  # fmt: skip
    s = session(stream)
    backup_args = {"job-id": "s", "device": "top", "target": "other", "sync": "full"}
    first = s.run({"execute": "blockdev-backup", "arguments": backup_args})
    assert first.predicted is None and "blockdev-backup" in first.why_not
    later = s.run({"execute": "job-pause", "arguments": {"id": "s"}})
    assert later.predicted is None and later.why_not == "an earlier step was not modelled"
    assert len(first.events) == 2 and len(later.events) == 1  # what came before each reply, kept
    assert s.run({"execute": "query-jobs"}).predicted is None
    assert stream.waited == 0.0


def test_a_modelled_step_with_no_events_after_its_reply_does_not_wait() -> None:
    stream = ScriptedStream({
        "qmp_capabilities": [b'{"return": {}}'],
        "query-jobs": [b'{"return": []}'],
        "job-dismiss": [b'{"error": {"class": "GenericError", "desc": "Job not found"}}'],
    })  # fmt: skip
    s = session(stream)
    step = s.run({"execute": "job-dismiss", "arguments": {"id": "j"}})
    assert step.agrees and stream.waited == 0.0  # nothing predicted after the reply: no wait
