"""One QMP connection as a sans-IO state machine.

Drive it with connect(), receive(data) and receive_eof(); each returns the
outputs QEMU would produce, in order. The phases and what each accepts are
data (PHASES); the JSON stream is QEMU's dialect (reference.qobject).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reference.qmp.commands import QUIT_EMITS_SHUTDOWN
from reference.qmp.dispatch import Abstain, dispatch, error_response
from reference.qmp.model import ProcessModel
from reference.qmp.outputs import Closed, Message, NotModelled, Output
from reference.qobject.json_streamer import JsonMessage, JsonStreamer, ParsedValue
from reference.qobject.json_streamer_11 import JsonStreamer11
from reference.qobject.json_writer import as_fixed_doubles
from reference.qobject.values import QDict, QObject

NEGOTIATION_HINT = "Expecting capabilities negotiation with 'qmp_capabilities'"


class Phase(Enum):
    AWAITING_GREETING = "awaiting-greeting"
    NEGOTIATING = "negotiating"
    COMMANDS = "commands"
    CLOSED = "closed"


@dataclass(frozen=True)
class PhaseRules:
    reads_input: bool
    gets_events: bool
    # Before negotiation QEMU rewrites every CommandNotFound to one hint.
    rewrites_not_found: bool


PHASES: dict[Phase, PhaseRules] = {
    Phase.AWAITING_GREETING: PhaseRules(reads_input=False, gets_events=False, rewrites_not_found=False),
    Phase.NEGOTIATING: PhaseRules(reads_input=True, gets_events=False, rewrites_not_found=True),
    Phase.COMMANDS: PhaseRules(reads_input=True, gets_events=True, rewrites_not_found=False),
    Phase.CLOSED: PhaseRules(reads_input=False, gets_events=False, rewrites_not_found=False),
}


class ProtocolError(RuntimeError):
    """The driver broke the state machine's contract (e.g. data before connect)."""


class QmpConnection:
    def __init__(self, process: ProcessModel) -> None:
        self.process = process
        self.phase = Phase.AWAITING_GREETING  # sets _rules too
        self.oob_enabled = False
        # 11.1 words and locates JSON errors its own way; 7.2's path stays as fast as it was.
        self._stream: JsonStreamer | JsonStreamer11 = (
            JsonStreamer11() if process.profile.json_dialect == "11.1" else JsonStreamer()
        )
        # Before 6.0 a reply's doubles print with "%f"; marking them costs 7.2 nothing.
        self._fixed_doubles = process.profile.double_format == "%f"

    @property
    def phase(self) -> Phase:
        return self._phase

    @phase.setter
    def phase(self, phase: Phase) -> None:
        # The phase's rules are read per request; an Enum hashes in Python, so look them up once here.
        self._phase = phase
        self._rules = PHASES[phase]

    @property
    def negotiated(self) -> bool:
        return self._phase is Phase.COMMANDS

    def enter_command_mode(self, oob: bool) -> None:
        self.phase = Phase.COMMANDS
        self.oob_enabled = oob

    def connect(self) -> list[Output]:
        if self.phase is not Phase.AWAITING_GREETING:
            raise ProtocolError("connect() called twice")
        self.phase = Phase.NEGOTIATING
        capabilities: list[QObject] = list(self.process.profile.offered_capabilities)
        greeting = QDict({"QMP": QDict({"version": self.process.version, "capabilities": capabilities})})
        return [Message(greeting)]

    def receive(self, data: bytes) -> list[Output]:
        if not self._rules.reads_input:
            if self.phase is Phase.CLOSED:
                return []
            raise ProtocolError(f"data received in phase {self.phase.value}")
        outputs: list[Output] = []
        for item in self._stream.feed(data):
            outputs.extend(self._handle(item))
            if self._phase is Phase.CLOSED:
                break
        return outputs

    def receive_eof(self) -> list[Output]:
        if not self._rules.reads_input:
            return []
        outputs: list[Output] = []
        for item in self._stream.flush():
            outputs.extend(self._handle(item))
        self.phase = Phase.CLOSED
        return outputs

    def _handle(self, item: JsonMessage) -> list[Output]:
        if not isinstance(item, ParsedValue):
            unmodelled = self.process.profile.json_errors_unmodelled
            if unmodelled:
                return [NotModelled(unmodelled)]
            return [Message(error_response("GenericError", item.desc))]
        # With oob enabled QEMU runs exec-oob requests at once, in its I/O
        # thread, while in-band ones wait in a queue: their replies may overtake.
        out_of_band = self.oob_enabled and _is_oob_request(item.value)
        response = dispatch(self, item.value)
        if isinstance(response, Abstain):
            return [NotModelled(response.reason)]
        outputs: list[Output] = []
        shutdown = response.quit and QUIT_EMITS_SHUTDOWN[self.process.flavour]
        after_reply = self.process.profile.shutdown_after_quit_reply
        if shutdown and not after_reply:
            outputs.append(self._shutdown())
        if response.body is not None:
            candidates = [response.body, *response.alternatives]
            if self._fixed_doubles:
                candidates = [as_fixed_doubles(body) for body in candidates]
            if self._rules.rewrites_not_found:
                candidates = [self._hint(body) for body in candidates]
            outputs.append(Message(candidates[0], tuple(candidates[1:]), out_of_band=out_of_band))
        if shutdown and after_reply:
            outputs.append(self._shutdown())
        if response.quit:
            self.process.running = False
            self.phase = Phase.CLOSED
            outputs.append(Closed("quit"))
        return outputs

    def _shutdown(self) -> Message:
        return Message(self.process.event("SHUTDOWN", QDict({"guest": False, "reason": "host-qmp-quit"})))

    @staticmethod
    def _hint(body: QDict) -> QDict:
        error = body.get("error")
        if isinstance(error, QDict) and error.get("class") == "CommandNotFound":
            error.delete("desc")
            error.put("desc", NEGOTIATION_HINT)
        return body


def _is_oob_request(request: QObject) -> bool:
    return isinstance(request, QDict) and "exec-oob" in request and "execute" not in request
