"""Predict a whole conversation: greeting, negotiation, then the case's bytes.

This is the oracle's answer to a case. It mirrors what the harness does on
the wire, step by step, but only ever consults the model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from reference.qmp.model import ProcessModel
from reference.qmp.monitor import QmpConnection
from reference.qmp.outputs import Closed, Message, NotModelled


def negotiation_line(capabilities: Sequence[str]) -> bytes:
    if not capabilities:
        return b'{"execute": "qmp_capabilities"}\n'
    args = json.dumps({"enable": list(capabilities)})
    return b'{"execute": "qmp_capabilities", "arguments": ' + args.encode() + b"}\n"


@dataclass
class Transcript:
    messages: list[Message] = field(default_factory=list)
    closed: bool = False
    not_modelled: str | None = None


def predict(
    model: ProcessModel,
    segments: Sequence[bytes],
    *,
    negotiate: bool,
    capabilities: Sequence[str] = (),
) -> Transcript:
    conn = QmpConnection(model)
    transcript = Transcript()
    chunks = [negotiation_line(capabilities)] if negotiate else []
    outputs = conn.connect()
    for chunk in [*chunks, *segments]:
        if _absorb(transcript, outputs):
            return transcript
        outputs = conn.receive(chunk)
    _absorb(transcript, outputs)
    return transcript


def _absorb(transcript: Transcript, outputs: Sequence[object]) -> bool:
    """Add outputs; True once nothing more can be predicted."""
    for output in outputs:
        if isinstance(output, Message):
            transcript.messages.append(output)
        elif isinstance(output, Closed):
            transcript.closed = True
            return True
        elif isinstance(output, NotModelled):
            transcript.not_modelled = output.reason
            return True
    return False
