"""The reference as an implementation in this process: the oracle's own state machine,
with a real clock, behind the same stream interface as a socket."""

from __future__ import annotations

from conformance.implementations import INTROSPECTION_DIR
from conformance.snapshots import model_from_file
from reference.profiles import DEFAULT_PROFILE, get_profile
from reference.qmp.monitor import QmpConnection
from reference.qmp.outputs import Closed
from reference.qmp.wire import render

DEFAULT_SNAPSHOT = INTROSPECTION_DIR / f"qsd-{DEFAULT_PROFILE}.json"


class InProcessStream:
    def __init__(self, conn: QmpConnection) -> None:
        self._conn = conn
        self._pending = render(conn.connect())
        self._closed = False

    def send(self, data: bytes) -> None:
        if self._closed:
            return
        outputs = self._conn.receive(data)
        self._pending += render(outputs)
        self._closed = any(isinstance(out, Closed) for out in outputs)

    def read_line(self, timeout: float | None = None) -> bytes | None:
        if b"\n" not in self._pending:
            if self._closed:
                rest, self._pending = self._pending, b""
                return rest or None
            from conformance.transport import ReadTimeout

            raise ReadTimeout("no complete line")
        line, _, self._pending = self._pending.partition(b"\n")
        return line + b"\n"

    def close(self) -> None:
        self._closed = True


class InProcessReference:
    def __init__(self) -> None:
        profile = get_profile(DEFAULT_PROFILE)
        self.model = model_from_file(DEFAULT_SNAPSHOT, profile, exact_identity=True, real_clock=True)

    def connect(self) -> InProcessStream:
        return InProcessStream(QmpConnection(self.model))

    def alive(self) -> bool:
        return self.model.running

    def crash_report(self) -> str | None:
        return None

    def stop(self) -> None:
        self.model.running = False
