"""Fuzz target: a client conversation, decoded from the input, into the reference NBD server.

The input is read as a script: client flags, then options (known ones with
well-formed or random data, and unknown ones), then requests with fuzzed
commands, flags, offsets and lengths. The server's bytes go through the
reference client, which frames them and never trusts them. For every input:
the server never raises; everything it sends parses; every reply answers a
request that was sent and not yet finished, with an error number the
protocol defines; and the read-only export keeps every byte.

    python -m fuzz.nbd_server [libFuzzer options] [CORPUS_DIR ...]
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field

if __name__ == "__main__":
    import atheris

    with atheris.instrument_imports(include=["reference"]):
        import reference.nbd.server  # noqa: F401

from reference.nbd import constants as c
from reference.nbd import wire
from reference.nbd.client import (
    Chunk,
    ClientPhase,
    Event,
    NbdClient,
    ProtocolViolation,
    SimpleReply,
)
from reference.nbd.server import Close, Export, NbdServerConnection, Output, Send
from reference.nbd.storage import BufferStorage

EXPORT_SIZE = 1 << 16
NAMES = ("rw", "ro", "", "missing")
QUERIES = (c.BASE_ALLOCATION, "base:", "qemu:dirty-bitmap:x", "")
OPTIONS = (
    c.OPT_EXPORT_NAME, c.OPT_ABORT, c.OPT_LIST, c.OPT_STARTTLS, c.OPT_INFO, c.OPT_GO,
    c.OPT_STRUCTURED_REPLY, c.OPT_LIST_META_CONTEXT, c.OPT_SET_META_CONTEXT,
)  # fmt: skip
COMMANDS = (
    c.CMD_READ, c.CMD_WRITE, c.CMD_DISC, c.CMD_FLUSH, c.CMD_TRIM, c.CMD_CACHE,
    c.CMD_WRITE_ZEROES, c.CMD_BLOCK_STATUS,
)  # fmt: skip
MAX_PAYLOAD_SENT = 4096  # keeps one input cheap; longer writes are declared, not sent


class Violation(AssertionError):
    """The reference server answered in a way the protocol forbids."""


class Script:
    """The fuzz input read as numbers and strings; zeros once it runs out."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def exhausted(self) -> bool:
        return self._pos >= len(self._data)

    def take(self, n: int) -> bytes:
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size).ljust(size, b"\0"), "big")

    def pick(self, choices: tuple[int, ...] | tuple[str, ...]) -> int | str:
        return choices[self.number(1) % len(choices)]

    def text(self) -> str:
        return self.take(self.number(1) % 32).decode("utf-8", "replace")


PATTERN = bytes((i * 7 + 3) % 251 for i in range(EXPORT_SIZE))  # no zero runs: trims show


@dataclass
class Conversation:
    server: NbdServerConnection
    client: NbdClient = field(default_factory=NbdClient)
    open_handles: set[int] = field(default_factory=set)
    finished: set[int] = field(default_factory=set)

    def deliver(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, Send):
                for data in output.data:
                    self.check(self.client.receive(data))
            elif isinstance(output, Close):
                self.check(self.client.receive_eof())

    def check(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ProtocolViolation):
                raise Violation(f"unparseable server output: {event.reason} ({event.clause})")
            if isinstance(event, (SimpleReply, Chunk)):
                self.check_reply(event)

    def check_reply(self, event: SimpleReply | Chunk) -> None:
        if event.handle not in self.open_handles:
            seen = "finished" if event.handle in self.finished else "never sent"
            raise Violation(f"reply for handle {event.handle:#x}, which is {seen}")
        if isinstance(event, SimpleReply):
            error, final = event.error, True
        else:
            final = event.done
            error = 0
            if event.kind & c.REPLY_TYPE_ERROR_BIT:
                if len(event.payload) < 6:
                    raise Violation(f"error chunk too short: {event.payload!r}")
                error = int.from_bytes(event.payload[:4], "big")
        if error and error not in c.ERROR_NAMES:
            raise Violation(f"error {error} is not one the protocol defines")
        if final:
            self.open_handles.discard(event.handle)
            self.finished.add(event.handle)

    def send(self, data: bytes) -> None:
        self.deliver(self.server.receive(data))


def option(script: Script, client: NbdClient) -> bytes:
    choice = script.number(1)
    opt = int(OPTIONS[choice % len(OPTIONS)]) if choice < 240 else script.number(4)
    name = str(script.pick(NAMES)) if script.number(1) < 200 else script.text()
    if opt == c.OPT_EXPORT_NAME:
        data = name.encode("utf-8")
    elif opt in (c.OPT_INFO, c.OPT_GO):
        infos = [script.number(2) % 5 for _ in range(script.number(1) % 4)]
        data = wire.info_request_data(name, infos)
    elif opt in (c.OPT_LIST_META_CONTEXT, c.OPT_SET_META_CONTEXT):
        queries = [str(script.pick(QUERIES)) for _ in range(script.number(1) % 3)]
        data = wire.meta_context_data(name, queries)
    else:
        data = b""
    if script.number(1) >= 230:
        data = script.take(script.number(1))  # whatever the option says, random data
    return client.option(opt, data)


def request(script: Script, conversation: Conversation, handle: int) -> bytes:
    choice = script.number(1)
    cmd = int(COMMANDS[choice % len(COMMANDS)]) if choice < 240 else script.number(2)
    flags = script.number(2) if script.number(1) >= 200 else 0
    if script.number(1) < 200:
        offset = script.number(2) % EXPORT_SIZE
        length = script.number(2) % (EXPORT_SIZE - offset + 1)
    else:
        offset, length = script.number(8), script.number(4)
    payload = b""
    if cmd == c.CMD_WRITE:
        payload = bytes(script.take(min(length, MAX_PAYLOAD_SENT)))
        if len(payload) < length and script.number(1) < 200:
            length = len(payload)  # mostly keep the framing honest
    # Any request may be answered (a disconnect with bad flags is refused); none must be.
    conversation.open_handles.add(handle)
    return conversation.client.request(cmd, handle, offset, length, flags, payload)


def one_input(data: bytes) -> None:
    script = Script(data)
    read_only = BufferStorage(bytearray(PATTERN), sparse=False)
    exports = {
        "rw": Export("rw", BufferStorage(bytearray(PATTERN), sparse=True), read_only=False),
        "ro": Export("ro", read_only, read_only=True),
    }
    conversation = Conversation(NbdServerConnection(exports, default_export="rw"))
    conversation.deliver(conversation.server.start())
    flags_choice = script.number(1)
    flags = flags_choice & 3 if flags_choice < 250 else script.number(4)
    conversation.send(conversation.client.client_flags(flags))
    handle = 1
    while not script.exhausted and not conversation.server.closed:
        phase = conversation.client.phase
        if phase is ClientPhase.TRANSMISSION:
            conversation.send(request(script, conversation, handle))
            handle += 1
        elif phase is ClientPhase.OPTIONS:
            conversation.send(option(script, conversation.client))
        else:
            break  # waiting for an export name reply the server owes: nothing more to send
    if read_only.read(0, EXPORT_SIZE) != PATTERN:
        raise Violation("the read-only export changed")


def seed_inputs(count: int = 64) -> list[bytes]:
    """Deterministic random scripts: libFuzzer grows the corpus from these."""
    rng = random.Random(0x4E4244)
    return [rng.randbytes(rng.randrange(16, 400)) for _ in range(count)]


def main(argv: list[str]) -> None:
    import atheris

    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
