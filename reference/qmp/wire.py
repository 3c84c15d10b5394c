"""Outputs to the bytes a QEMU monitor writes (one JSON text per line, CRLF)."""

from __future__ import annotations

from collections.abc import Iterable

from reference.qmp.dispatch import error_response
from reference.qmp.outputs import Message, NotModelled, Output
from reference.qobject.json_writer import to_json


def render(outputs: Iterable[Output]) -> bytes:
    """What a served reference writes; an abstention becomes an explicit error line."""
    chunks: list[str] = []
    for output in outputs:
        if isinstance(output, Message):
            chunks.append(to_json(output.body) + "\r\n")
        elif isinstance(output, NotModelled):
            body = error_response("GenericError", f"qconform: not modelled: {output.reason}")
            chunks.append(to_json(body) + "\r\n")
    return "".join(chunks).encode("utf-8")
