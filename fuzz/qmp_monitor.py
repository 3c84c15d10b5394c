"""Fuzz target: arbitrary bytes into the reference QMP monitor.

Checks, for every input, that the oracle never raises and answers like QEMU:
every line is a well-formed QMP message (a return or an error with an id
only where QEMU echoes one; events with a timestamp), it survives a round
trip through QEMU's JSON writer and the oracle's own parser, and after the
input plus the resynchronisation byte 0xFF the monitor still answers a valid
command.

    python -m fuzz.qmp_monitor [libFuzzer options] [CORPUS_DIR ...]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

if __name__ == "__main__":
    # Coverage feedback for the oracle only: its modules must be first imported
    # under atheris's instrumentation (the imports below then reuse them).
    import atheris

    with atheris.instrument_imports(include=["reference"]):
        import reference.qmp.monitor
        import reference.qmp.snapshot  # noqa: F401

from reference.profiles import get_profile
from reference.qmp.model import ProcessModel
from reference.qmp.monitor import QmpConnection
from reference.qmp.outputs import Closed, Message, NotModelled, Output
from reference.qmp.snapshot import process_from_snapshot
from reference.qobject.json_streamer import JsonStreamer, ParsedValue
from reference.qobject.json_writer import to_json
from reference.qobject.values import QDict, QObject

SNAPSHOT = Path(__file__).resolve().parent.parent / "fixtures" / "introspection" / "qsd-7.2.json"
RESYNC = b'\xff\n{"execute": "qmp_capabilities", "id": "fuzz-sync"}\n'


class Violation(AssertionError):
    """The oracle answered in a way QEMU never would."""


def load_model() -> ProcessModel:
    import json

    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    model = process_from_snapshot(snapshot, get_profile("7.2"), exact_identity=True)
    # query-qmp-schema's 160 KB answer is constant: a few entries exercise the
    # same code without making every input that asks for it cost milliseconds.
    model.introspection = model.introspection[:8]
    return model


def check_message(body: QDict) -> None:
    keys = set(body.keys())
    if "event" in keys:
        if not {"event", "timestamp"} <= keys <= {"event", "timestamp", "data"}:
            raise Violation(f"malformed event {body!r}")
    elif "return" in keys:
        if not keys <= {"return", "id"}:
            raise Violation(f"malformed return {body!r}")
    elif "error" in keys:
        error = body.get("error")
        if not keys <= {"error", "id"} or not isinstance(error, QDict):
            raise Violation(f"malformed error {body!r}")
        if error.keys() != ["class", "desc"]:
            raise Violation(f"error members {error.keys()}")
    elif "QMP" not in keys:
        raise Violation(f"unknown message {body!r}")
    text = to_json(body)
    if not _all_finite(body):
        return  # QEMU writes an infinite double as a bare inf: not JSON, nothing to re-read
    parsed = JsonStreamer().feed(text.encode("utf-8") + b"\n")
    if len(parsed) != 1 or not isinstance(parsed[0], ParsedValue) or parsed[0].value != body:
        raise Violation(f"does not round-trip: {text}")


def _all_finite(value: QObject) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, QDict):
        return all(_all_finite(v) for _, v in value.items())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    return True


def check_outputs(outputs: list[Output]) -> bool:
    """Check every message; True once the connection is over (quit, abstention)."""
    for output in outputs:
        if isinstance(output, Message):
            check_message(output.body)
        elif isinstance(output, (Closed, NotModelled)):
            return True
    return False


def one_input(model_factory: ProcessModel, data: bytes) -> None:
    conn = QmpConnection(model_factory)
    check_outputs(conn.connect())
    if check_outputs(conn.receive(data)):
        return
    after = conn.receive(RESYNC)
    if check_outputs(after):
        return
    synced = [
        o
        for o in after
        if isinstance(o, Message) and isinstance(o.body, QDict) and o.body.get("id") == "fuzz-sync"
    ]
    if not synced:
        raise Violation("monitor did not answer after resynchronising with 0xFF")


def main(argv: list[str]) -> None:
    import atheris

    model = load_model()

    def test_one_input(data: bytes) -> None:
        model.running = True
        one_input(model, data)

    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
