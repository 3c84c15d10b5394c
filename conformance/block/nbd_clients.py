"""NBD clients in a block step case: the oracle is told what each client does and predicts the outcome.

Outcomes: "ok", "refused" (connect: no such export or no server), "closed"
(the server cut the client off), and, observed only, "error" (an NBD error
reply), "no answer" (a timeout) and "not connected" (its connect failed).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.nbd.session import ProbeError
from conformance.nbd.session import Session as NbdSession
from reference.block.errors import NotModelled
from reference.block.exports import client_request, connect_client, disconnect_client
from reference.block.graph import BlockGraph
from reference.nbd import constants as c

ACTIONS = ("connect", "read", "write", "disconnect")
TIMEOUT = 5.0
REQUEST_LENGTH = 512
EOF_GRACE = 0.05  # a cut-off client already has EOF waiting: the server closed before its event


@dataclass(frozen=True)
class ClientStep:
    sent: dict[str, Any]
    predicted: str | None  # None: the oracle abstained
    why_not: str
    observed: str

    @property
    def agrees(self) -> bool:
        expect = self.sent.get("expect")
        return self.predicted == self.observed and (expect is None or expect == self.observed)

    def describe(self) -> str:
        expected = self.predicted if self.predicted is not None else f"(not modelled: {self.why_not})"
        return f"NBD client {json.dumps(self.sent)}\n  expected {expected}\n  observed {self.observed}"


class NbdClients:
    """The reference NBD client's connections, by the case's label; close() drops them all."""

    def __init__(self, graph: BlockGraph) -> None:
        self.graph = graph
        self.sessions: dict[str, NbdSession] = {}

    def run(self, step: dict[str, Any], trusted: bool) -> ClientStep:
        label, action = step["nbd-client"], step["action"]
        if action not in ACTIONS:
            raise ValueError(f"NBD client step: unknown action {action!r}")
        predicted, why_not = None, "an earlier step was not modelled"
        if trusted:
            try:
                predicted, why_not = self._predict(label, action, step), ""
            except NotModelled as err:
                why_not = err.reason
        return ClientStep(step, predicted, why_not, self._observe(label, action, step))

    def _predict(self, label: str, action: str, step: dict[str, Any]) -> str:
        if action == "connect":
            return connect_client(self.graph, label, step["export"])
        if action == "disconnect":
            return disconnect_client(self.graph, label)
        return client_request(self.graph, label, action == "write", _offset(step), REQUEST_LENGTH)

    def _observe(self, label: str, action: str, step: dict[str, Any]) -> str:
        if action == "connect":
            return self._connect(label, Path(step["socket"]), step["export"])
        session = self.sessions.get(label)
        if session is None:  # its connect failed: the implementation disagreed already
            return "not connected"
        if action == "disconnect":
            del self.sessions[label]
            try:
                if session.closed_within(EOF_GRACE):
                    return "closed"
                session.send(session.client.request(c.CMD_DISC, 0, 0, 0, 0, b""))
                return "ok" if session.closed_within(TIMEOUT) else "no answer"
            except OSError:
                return "closed"
            finally:
                session.close()
        payload = bytes([0x5A]) * REQUEST_LENGTH if action == "write" else b""
        cmd = c.CMD_WRITE if action == "write" else c.CMD_READ
        try:
            result = session.command(cmd, _offset(step), REQUEST_LENGTH, payload=payload)
        except OSError:
            return "closed"
        except ProbeError as err:
            return "no answer" if "timed out" in str(err) else "closed"
        return "ok" if result.error == 0 else "error"

    def _connect(self, label: str, socket: Path, name: str) -> str:
        try:
            session = NbdSession(socket, TIMEOUT)
        except OSError:
            return "refused"
        try:
            session.handshake()
            session.go(name)
        except (ProbeError, OSError):
            session.close()
            return "refused"
        self.sessions[label] = session
        return "ok"

    def close(self) -> None:
        for session in self.sessions.values():
            with contextlib.suppress(OSError):
                session.close()
        self.sessions.clear()


def _offset(step: dict[str, Any]) -> int:
    offset = step.get("offset", 0)
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"NBD client step: 'offset' must be a non-negative integer, not {offset!r}")
    return offset
