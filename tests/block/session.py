"""One conversation with a real implementation and the oracle side by side, one command at a time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from conformance.implementations import Implementation, Instance, QmpStream
from conformance.runner import PredictedLine
from conformance.snapshots import model_from_file
from reference.block.errors import NotModelled
from reference.block.storage import StorageFacts
from reference.qmp.monitor import QmpConnection
from reference.qmp.outputs import Message
from reference.qmp.transcript import negotiation_line

READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class Step:
    sent: dict[str, Any]
    predicted: PredictedLine | None  # None: the oracle abstained
    why_not: str
    observed: bytes

    @property
    def agrees(self) -> bool:
        return self.predicted is not None and self.predicted.judge(self.observed)

    @property
    def reply(self) -> Any:
        return json.loads(self.observed)

    def describe(self) -> str:
        expected = self.predicted.render() if self.predicted else f"(not modelled: {self.why_not})"
        return f"sent {json.dumps(self.sent)}\n  expected {expected}\n  observed {self.observed.decode()}"


class Session:
    def __init__(self, impl: Implementation, storage: StorageFacts) -> None:
        model = model_from_file(impl.snapshot_path, impl.profile, exact_identity=False)
        model.attach_storage(storage)
        self.oracle = QmpConnection(model)
        self.oracle.connect()
        self.oracle.receive(negotiation_line(()))
        self.instance: Instance = impl.launch()
        try:
            self.stream: QmpStream = self.instance.connect()
            self._read()  # greeting
            self.stream.send(negotiation_line(()))
            self._read()
        except BaseException:
            self.instance.stop()
            raise
        self.abstained = False

    def _read(self) -> bytes:
        line = self.stream.read_line(READ_TIMEOUT)
        if line is None:
            raise AssertionError(f"the implementation closed the connection: {self.instance.crash_report()}")
        return line.rstrip(b"\r\n")

    def run(self, command: dict[str, Any]) -> Step:
        data = (json.dumps(command) + "\n").encode()
        predicted, why_not = None, ""
        if not self.abstained:
            try:
                outputs = self.oracle.receive(data)
            except NotModelled as err:  # the oracle's state stops being trustworthy here
                self.abstained, why_not = True, err.reason
            else:
                messages = [out for out in outputs if isinstance(out, Message)]
                assert len(messages) == 1, outputs
                predicted = PredictedLine.of(messages[0])
        self.stream.send(data)
        return Step(command, predicted, why_not or "an earlier step was not modelled", self._read())

    def close(self) -> None:
        self.stream.close()
        self.instance.stop()
