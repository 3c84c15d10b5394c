"""One conversation with a real implementation and the oracle side by side, one command at a time.

Events are asynchronous: a step keeps the events read before its reply, and
when the oracle predicts events (a block job's) the step reads on after the
reply until it has as many, or a deadline. Once the oracle abstained, no step
waits for events: the rest of the session is reported as not modelled at once. Where
the oracle places an event before or after the reply, the step checks that
too.

A step {"nbd-client": LABEL, "action": ...} drives an NBD client (the
reference client, conformance/nbd/session.py) instead: connect to an export
over the server's socket, read, write, disconnect. The oracle is told what
the client does (it is a fact about the world, like the storage) and
predicts the outcome: ok, refused or closed.

Where the oracle predicts what the process prints on its standard output
(HMP qemu-io's report on QEMU 7.2), the step reads what came since the
last such step and compares it line by line (a timing line by its shape).
Host processes keep their stdout (ProcessInstance, command-line and
unprivileged launches), a container's is docker's log of it
(ContainerInstance.output_from); an instance without either is not examined
for output (the monitor's replies still are).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.block.nbd_clients import ClientStep, NbdClients
from conformance.compare import qobject_matches_line
from conformance.implementations import Implementation, Instance, QmpStream
from conformance.runner import PredictedLine
from conformance.snapshots import model_from_file
from conformance.transport import ReadTimeout
from reference.block.errors import NotModelled
from reference.block.graph import BlockGraph
from reference.block.qemu_io_report import OutputLine, output_matches, render
from reference.block.storage import StorageFacts
from reference.qmp.monitor import QmpConnection
from reference.qmp.outputs import Closed, Message
from reference.qmp.outputs import NotModelled as Abstention
from reference.qmp.transcript import negotiation_line
from reference.qobject.json_writer import to_json
from reference.qobject.values import QDict

READ_TIMEOUT = 10.0
EXIT_GRACE = 5.0  # how long a process that closed its monitor may take to die (a core dump)
OUTPUT_TIMEOUT = 5.0  # qemu-io prints its report before the monitor replies; this is a safety net
OUTPUT_SETTLE = 0.02
JOB_TIMEOUT = 20.0  # a commit of a few MiB takes milliseconds; this is only a safety net


class ConnectionClosed(AssertionError):
    """The implementation closed its monitor (crashed, or left) while a reply was awaited."""

    def __init__(self, crash: str | None) -> None:
        self.crash = crash  # the crash check's report (None: the process did not crash)
        super().__init__(f"the implementation closed the connection: {crash or 'without a crash'}")


@dataclass(frozen=True)
class Step:
    sent: dict[str, Any]
    predicted: PredictedLine | None  # None: the oracle abstained
    why_not: str
    observed: bytes
    predicted_events: tuple[QDict, ...] | None = None  # None: abstained
    events: tuple[bytes, ...] = field(default=())
    predicted_when: tuple[str, ...] = ()  # per predicted event: "before", "after" the reply, or "either"
    before_reply: int = 0  # how many of the events came before the reply
    # What the process printed on stdout during the step (HMP qemu-io's report), when the oracle
    # predicts it (None: the step's output is not examined).
    predicted_output: tuple[OutputLine, ...] | None = None
    output: str = ""

    @property
    def output_agrees(self) -> bool:
        return self.predicted_output is None or output_matches(self.predicted_output, self.output)

    @property
    def events_agree(self) -> bool:
        expected = self.predicted_events
        if expected is None or len(expected) != len(self.events):
            return False
        if not all(qobject_matches_line(e, line) for e, line in zip(expected, self.events, strict=True)):
            return False
        return all(
            when == "either" or (when == "before") == (index < self.before_reply)
            for index, when in enumerate(self.predicted_when)
        )

    @property
    def agrees(self) -> bool:
        return (
            self.predicted is not None
            and self.predicted.judge(self.observed)
            and self.events_agree
            and self.output_agrees
        )

    @property
    def reply(self) -> Any:
        return json.loads(self.observed)

    def event_data(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.events]

    def describe(self) -> str:
        expected = self.predicted.render() if self.predicted else f"(not modelled: {self.why_not})"
        text = f"sent {json.dumps(self.sent)}\n  expected {expected}\n  observed {self.observed.decode()}"
        if not self.events_agree:
            predicted = [to_json(e) for e in self.predicted_events or ()]
            text += f"\n  expected events {predicted} ({', '.join(self.predicted_when)} the reply)"
            observed = [e.decode() for e in self.events]
            text += f"\n  observed events {observed} ({self.before_reply} before the reply)"
        if not self.output_agrees:
            assert self.predicted_output is not None
            text += (
                f"\n  expected output {render(self.predicted_output)!r}\n  observed output {self.output!r}"
            )
        return text


class Session:
    """prepare: what the oracle's graph holds before the first command (nodes from a command line);
    launch: how the process starts (default: the implementation's own way)."""

    def __init__(
        self,
        impl: Implementation,
        storage: StorageFacts,
        prepare: Callable[[BlockGraph], None] | None = None,
        launch: Callable[[], Instance] | None = None,
    ) -> None:
        model = model_from_file(impl.snapshot_path, impl.profile, exact_identity=False)
        self.graph = model.attach_storage(storage)
        if prepare is not None:
            prepare(self.graph)
        self.oracle = QmpConnection(model)
        self.oracle.connect()
        self.oracle.receive(negotiation_line(()))
        self.instance: Instance = (launch or impl.launch)()
        try:
            self.stream: QmpStream = self.instance.connect()
            self._read()  # greeting
            self.stream.send(negotiation_line(()))
            self._read()
        except BaseException:
            self.instance.stop()
            raise
        self.abstained = False
        self.closing = False  # the oracle predicts the process leaves (quit)
        self.sent: list[str] = []  # every command, as written: the reproducer
        self.clients = NbdClients(self.graph)
        self._output_read = 0  # how much of the process's stdout earlier steps took

    def _read(self, timeout: float = READ_TIMEOUT) -> bytes:
        line = self.stream.read_line(timeout)
        if line is None:
            deadline = time.monotonic() + EXIT_GRACE  # a crashing process closes its socket first
            while self.instance.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            raise ConnectionClosed(self.instance.crash_report())
        return line.rstrip(b"\r\n")

    def _predict(self, data: bytes) -> tuple[PredictedLine | None, tuple[tuple[QDict, str], ...] | None, str]:
        if self.abstained:
            return None, None, "an earlier step was not modelled"
        try:
            outputs = self.oracle.receive(data)
        except NotModelled as err:
            outputs = [Abstention(err.reason)]
        events = tuple(self.graph.take_timed_events())
        for out in outputs:
            if isinstance(out, Abstention):  # the oracle's state stops being trustworthy here
                self.abstained = True
                return None, None, out.reason
        messages = [out for out in outputs if isinstance(out, Message)]
        replies = [m for m in messages if "event" not in m.body]
        assert len(replies) == 1, outputs
        # The monitor's own events (quit's SHUTDOWN) sit before or after the reply as the oracle says.
        place = messages.index(replies[0])
        own = tuple(
            (m.body, "before" if i < place else "after") for i, m in enumerate(messages) if i != place
        )
        self.closing = self.closing or any(isinstance(out, Closed) for out in outputs)
        return PredictedLine.of(replies[0]), own + events, ""

    def run(self, command: dict[str, Any]) -> Step:
        data = (json.dumps(command) + "\n").encode()
        self.sent.append(data.decode().rstrip("\n"))
        predicted, timed, why_not = self._predict(data)
        predicted_output = self.graph.take_output()
        predicted_events = None if timed is None else tuple(event for event, _when in timed)
        self.stream.send(data)
        events: list[bytes] = []
        while True:
            line = self._read()
            if not line.startswith(b'{"timestamp"') and b'"event"' not in line[:40]:
                break
            events.append(line)
        before = len(events)
        events += self._job_events(events, predicted_events)
        when = tuple(w for _event, w in timed or ())
        readable = getattr(self.instance, "output_from", None) is not None
        output = (
            None if predicted_output is None or predicted is None or not readable else tuple(predicted_output)
        )
        printed = self._output(len(output)) if output is not None else ""
        return Step(
            command, predicted, why_not, line, predicted_events, tuple(events), when, before, output, printed
        )

    def _output(self, lines: int) -> str:
        """The process's stdout since the last examined step: until `lines` lines came, or a deadline."""
        read_from: Callable[[int], bytes] | None = getattr(self.instance, "output_from", None)
        if read_from is None:
            return "(this implementation's standard output cannot be read)"
        deadline = time.monotonic() + OUTPUT_TIMEOUT
        text = read_from(self._output_read)
        while text.count(b"\n") < lines and time.monotonic() < deadline:
            time.sleep(0.01)
            text = read_from(self._output_read)
        time.sleep(OUTPUT_SETTLE)  # a line more than predicted must show as a disagreement
        text = read_from(self._output_read)
        self._output_read += len(text)
        return text.decode("utf-8", "replace")

    def client(self, step: dict[str, Any]) -> ClientStep:
        """An NBD client step: the oracle's prediction (unless abstained) and what the client saw."""
        self.sent.append(json.dumps(step))
        return self.clients.run(step, trusted=not self.abstained)

    def ask(self, command: dict[str, Any]) -> Any:
        """Send a command the oracle does not model (query-block) and return the implementation's reply."""
        data = (json.dumps(command) + "\n").encode()
        self.sent.append(data.decode().rstrip("\n"))
        self.stream.send(data)
        line = self._read()
        while line.startswith(b'{"timestamp"'):
            line = self._read()
        return json.loads(line)

    def _job_events(self, seen: list[bytes], predicted: tuple[QDict, ...] | None) -> list[bytes]:
        """Events after the reply, as many as predicted. Nobody waits for events the oracle did not
        predict (it abstained): a later step takes them in before its reply, unexamined."""
        more: list[bytes] = []
        if predicted is None or len(predicted) <= len(seen):
            return more
        wanted = len(predicted)
        deadline = time.monotonic() + JOB_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.stream.read_line(max(0.01, deadline - time.monotonic()))
            except ReadTimeout:
                break
            if line is None:
                break
            more.append(line.rstrip(b"\r\n"))
            if len(seen) + len(more) >= wanted:
                break
        return more

    def close(self) -> None:
        self.clients.close()
        self.stream.close()
        self.instance.stop()
