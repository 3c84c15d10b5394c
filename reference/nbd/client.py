"""The NBD client as a sans-IO state machine, used as the conformance probe.

It frames what the server sends into events and never trusts it: anything that does not
parse becomes a ProtocolViolation event naming the clause, and the machine stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from reference.nbd import constants as c
from reference.nbd import wire


class ClientPhase(StrEnum):
    GREETING = "greeting"
    OPTIONS = "options"
    EXPORT_NAME = "export-name"  # waiting for NBD_OPT_EXPORT_NAME's reply
    TRANSMISSION = "transmission"
    CLOSED = "closed"


@dataclass(frozen=True)
class Greeting:
    handshake_flags: int


@dataclass(frozen=True)
class OptionReply:
    option: int
    reply: int
    data: bytes

    @property
    def final(self) -> bool:
        return self.reply == c.REP_ACK or bool(self.reply & c.REP_ERR_BIT)


@dataclass(frozen=True)
class ExportNameReply:
    size: int
    flags: int
    padding: bytes


@dataclass(frozen=True)
class SimpleReply:
    handle: int
    error: int
    data: bytes


@dataclass(frozen=True)
class Chunk:
    handle: int
    flags: int
    kind: int
    payload: bytes

    @property
    def done(self) -> bool:
        return bool(self.flags & c.REPLY_FLAG_DONE)


@dataclass(frozen=True)
class ProtocolViolation:
    reason: str
    clause: str | None = None


@dataclass(frozen=True)
class ConnectionClosed:
    pass


Event = Greeting | OptionReply | ExportNameReply | SimpleReply | Chunk | ProtocolViolation | ConnectionClosed


@dataclass
class NbdClient:
    phase: ClientPhase = ClientPhase.GREETING
    no_zeroes: bool = False
    _buf: bytearray = field(default_factory=bytearray)
    _pending_option: int | None = None
    _pending_reads: dict[int, int] = field(default_factory=dict)  # handle -> length, for simple replies

    # -- what the client sends ----------------------------------------------------------------

    def client_flags(self, flags: int) -> bytes:
        self.no_zeroes = bool(flags & c.FLAG_C_NO_ZEROES)
        return wire.CLIENT_FLAGS.pack(flags)

    def option(self, opt: int, data: bytes = b"") -> bytes:
        if opt == c.OPT_EXPORT_NAME:
            self.phase = ClientPhase.EXPORT_NAME
        self._pending_option = opt
        return wire.option(opt, data)

    def request(
        self, cmd: int, handle: int, offset: int, length: int, flags: int = 0, payload: bytes = b""
    ) -> bytes:
        if cmd == c.CMD_READ:
            self._pending_reads[handle] = length
        return wire.request(cmd, handle, offset, length, flags, payload)

    # -- what the server sends ----------------------------------------------------------------

    def receive_eof(self) -> list[Event]:
        self.phase = ClientPhase.CLOSED
        return [ConnectionClosed()]

    def receive(self, data: bytes) -> list[Event]:
        self._buf += data
        events: list[Event] = []
        while self.phase is not ClientPhase.CLOSED:
            event = self._next()
            if event is None:
                break
            events.append(event)
            if isinstance(event, ProtocolViolation):
                self.phase = ClientPhase.CLOSED
        return events

    def _take(self, n: int) -> bytes:
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _next(self) -> Event | None:
        if self.phase is ClientPhase.GREETING:
            return self._greeting()
        if self.phase is ClientPhase.OPTIONS:
            return self._option_reply()
        if self.phase is ClientPhase.EXPORT_NAME:
            return self._export_name_reply()
        return self._reply()

    def _greeting(self) -> Event | None:
        if len(self._buf) < wire.GREETING.size:
            return None
        magic, newstyle, flags = wire.GREETING.unpack(self._take(wire.GREETING.size))
        if magic != c.NBDMAGIC or newstyle != c.IHAVEOPT:
            return ProtocolViolation(f"greeting magics {magic:#x} {newstyle:#x}", "hs-magic")
        self.phase = ClientPhase.OPTIONS
        return Greeting(flags)

    def _option_reply(self) -> Event | None:
        if len(self._buf) < wire.OPTION_REPLY.size:
            return None
        magic, opt, reply, length = wire.OPTION_REPLY.unpack_from(self._buf)
        if magic != c.OPTION_REPLY_MAGIC:
            return ProtocolViolation(f"option reply magic {magic:#x}", "opt-reply-format")
        if len(self._buf) < wire.OPTION_REPLY.size + length:
            return None
        del self._buf[: wire.OPTION_REPLY.size]
        event = OptionReply(opt, reply, self._take(length))
        if opt != self._pending_option:
            return ProtocolViolation(
                f"reply for option {opt}, asked {self._pending_option}", "opt-reply-format"
            )
        if event.final:
            self._pending_option = None
            if opt == c.OPT_GO and reply == c.REP_ACK:
                self.phase = ClientPhase.TRANSMISSION
        return event

    def _export_name_reply(self) -> Event | None:
        want = wire.EXPORT_NAME_REPLY.size + (0 if self.no_zeroes else 124)
        if len(self._buf) < want:
            return None
        size, flags = wire.EXPORT_NAME_REPLY.unpack_from(self._buf)
        raw = self._take(want)
        self.phase = ClientPhase.TRANSMISSION
        return ExportNameReply(size, flags, raw[wire.EXPORT_NAME_REPLY.size :])

    def _reply(self) -> Event | None:
        if len(self._buf) < 4:
            return None
        (magic,) = wire.U32.unpack_from(self._buf)
        if magic == c.SIMPLE_REPLY_MAGIC:
            if len(self._buf) < wire.SIMPLE_REPLY.size:
                return None
            _, error, handle = wire.SIMPLE_REPLY.unpack_from(self._buf)
            length = self._pending_reads.get(handle, 0) if error == 0 else 0
            if len(self._buf) < wire.SIMPLE_REPLY.size + length:
                return None
            del self._buf[: wire.SIMPLE_REPLY.size]
            self._pending_reads.pop(handle, None)
            return SimpleReply(handle, error, self._take(length))
        if magic == c.STRUCTURED_REPLY_MAGIC:
            if len(self._buf) < wire.CHUNK.size:
                return None
            _, flags, kind, handle, length = wire.CHUNK.unpack_from(self._buf)
            if len(self._buf) < wire.CHUNK.size + length:
                return None
            del self._buf[: wire.CHUNK.size]
            chunk = Chunk(handle, flags, kind, self._take(length))
            if chunk.done:
                self._pending_reads.pop(handle, None)
            return chunk
        return ProtocolViolation(f"reply magic {magic:#x}", "tx-handle")
