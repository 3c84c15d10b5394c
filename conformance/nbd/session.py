"""A blocking socket driving the sans-IO probe client, with a deadline on every read."""

from __future__ import annotations

import contextlib
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from reference.nbd import constants as c
from reference.nbd import wire
from reference.nbd.client import (
    Chunk,
    ConnectionClosed,
    Event,
    ExportNameReply,
    Greeting,
    NbdClient,
    OptionReply,
    ProtocolViolation,
    SimpleReply,
)

Address = Path | tuple[str, int]


class ProbeError(Exception):
    """The conversation could not go on: closed, timed out, or a reply that does not parse."""

    def __init__(self, reason: str, clause: str | None = None) -> None:
        super().__init__(reason)
        self.clause = clause


@dataclass
class CommandResult:
    """A whole reply: a simple one, or every chunk up to DONE, with what was wrong in it."""

    error: int
    data: bytes
    structured: bool
    chunks: list[Chunk] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    message: str = ""


def open_socket(address: Address, timeout: float) -> socket.socket:
    if isinstance(address, Path):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = str(address)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = address
    sock.settimeout(timeout)
    try:
        sock.connect(target)
    except OSError:
        sock.close()
        raise
    return sock


GREETING_TIMEOUT = 20.0


class Session:
    def __init__(self, address: Address, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.sock = open_socket(address, timeout)
        self.client = NbdClient()
        self._events: deque[Event] = deque()
        self._handle = 0
        self.structured = False
        self.size = 0
        self.flags = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_event(self, timeout: float | None = None) -> Event:
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not self._events:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProbeError("timed out waiting for the server")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                raise ProbeError("timed out waiting for the server") from None
            except ConnectionResetError:
                data = b""
            self._events.extend(self.client.receive(data) if data else self.client.receive_eof())
        event = self._events.popleft()
        if isinstance(event, ProtocolViolation):
            raise ProbeError(event.reason, event.clause)
        return event

    def closed_within(self, timeout: float) -> bool:
        """True if the server closes the connection (and sends nothing else) within timeout."""
        try:
            return isinstance(self.next_event(timeout), ConnectionClosed)
        except ProbeError:
            return False

    # -- handshake ----------------------------------------------------------------------------

    def greeting(self) -> int:
        # Every server greets at once; a loaded machine (a forking nbd-server in a container)
        # can take longer than a reply, so waiting longer costs only a failing run.
        event = self.next_event(max(self.timeout, GREETING_TIMEOUT))
        if not isinstance(event, Greeting):
            raise ProbeError(f"expected the greeting, got {event}", "hs-magic")
        return event.handshake_flags

    def handshake(self, client_flags: int = c.FLAG_C_FIXED_NEWSTYLE) -> int:
        flags = self.greeting()
        self.send(self.client.client_flags(client_flags & (flags | ~c.FLAG_C_NO_ZEROES)))
        return flags

    def option(self, opt: int, data: bytes = b"") -> list[OptionReply]:
        """Send one option and collect its replies up to the final one."""
        self.send(self.client.option(opt, data))
        replies: list[OptionReply] = []
        while True:
            event = self.next_event()
            if isinstance(event, ConnectionClosed):
                raise ProbeError(f"server closed the connection after option {opt}")
            if not isinstance(event, OptionReply):
                raise ProbeError(f"expected an option reply, got {event}", "opt-reply-format")
            replies.append(event)
            if event.final:
                if opt == c.OPT_STRUCTURED_REPLY and event.reply == c.REP_ACK and not data:
                    self.structured = True
                return replies

    def export_name(self, name: str) -> ExportNameReply:
        self.send(self.client.option(c.OPT_EXPORT_NAME, name.encode()))
        event = self.next_event()
        if not isinstance(event, ExportNameReply):
            raise ProbeError(f"NBD_OPT_EXPORT_NAME answered by {event}", "opt-export-name-reply")
        self.size, self.flags = event.size, event.flags
        return event

    def go(self, name: str, infos: list[int] | None = None) -> list[OptionReply]:
        replies = self.option(c.OPT_GO, wire.info_request_data(name, infos or []))
        if replies[-1].reply != c.REP_ACK:
            raise ProbeError(f"NBD_OPT_GO refused: {c.reply_name(replies[-1].reply)}")
        for reply in replies:
            export = parse_info_export(reply)
            if export is not None:
                self.size, self.flags = export
        return replies

    # -- transmission -------------------------------------------------------------------------

    def command(
        self, cmd: int, offset: int = 0, length: int = 0, flags: int = 0, payload: bytes = b""
    ) -> CommandResult:
        self._handle += 1
        handle = 0x5143_0000_0000_0000 | self._handle  # distinctive, to catch a wrong echo
        self.send(self.client.request(cmd, handle, offset, length, flags, payload))
        return self._collect(handle, cmd, offset, length)

    def _collect(self, handle: int, cmd: int, offset: int, length: int) -> CommandResult:
        result: CommandResult | None = None
        while True:
            event = self.next_event()
            if isinstance(event, ConnectionClosed):
                raise ProbeError("server closed the connection instead of replying")
            if not isinstance(event, SimpleReply | Chunk):
                raise ProbeError(f"unexpected {event}")
            if event.handle != handle:
                raise ProbeError(f"reply handle {event.handle:#x}, sent {handle:#x}", "tx-handle")
            if isinstance(event, SimpleReply):
                if result is not None:
                    raise ProbeError("simple reply in the middle of a structured reply", "tx-read-structured")
                return CommandResult(event.error, event.data, structured=False)
            if result is None:
                result = CommandResult(0, b"", structured=True)
            result.chunks.append(event)
            _absorb_chunk(result, event, offset, length)
            if event.done:
                if cmd == c.CMD_READ and result.error == 0:
                    result.data = _assemble(result, offset, length)
                return result


@dataclass
class Pipelined:
    """Replies to requests sent all at once: per request (in request order), the order replies
    completed in (request indexes), and anything that broke the one-reply-per-handle rule."""

    results: list[CommandResult]
    completed: list[int]
    problems: list[str]


def pipeline(session: Session, requests: list[tuple[int, int, int, int, bytes]]) -> Pipelined:
    """Send every (cmd, offset, length, flags, payload) without waiting, then collect the replies
    by handle; a moment after the last one, anything more is a stray (a chunk after DONE)."""
    wanted: dict[int, tuple[int, int, int, int]] = {}  # handle -> index, cmd, offset, length
    data = bytearray()
    for index, (cmd, offset, length, flags, payload) in enumerate(requests):
        session._handle += 1
        handle = 0x5143_0000_0000_0000 | session._handle
        wanted[handle] = (index, cmd, offset, length)
        data += session.client.request(cmd, handle, offset, length, flags, payload)
    session.send(bytes(data))
    results: dict[int, CommandResult] = {}
    completed: list[int] = []
    problems: list[str] = []
    partial: dict[int, CommandResult] = {}

    def stray(event: SimpleReply | Chunk) -> None:
        answered = event.handle in wanted and wanted[event.handle][0] in results
        problems.append(
            f"{type(event).__name__} for handle {event.handle:#x} "
            + ("after its reply was complete" if answered else "that is not in flight")
        )

    while len(results) < len(requests):
        event = session.next_event()
        if isinstance(event, ConnectionClosed):
            raise ProbeError(f"server closed the connection with {len(requests) - len(results)} replies due")
        if not isinstance(event, SimpleReply | Chunk):
            raise ProbeError(f"unexpected {event}")
        if event.handle not in wanted or wanted[event.handle][0] in results:
            stray(event)
            continue
        index, cmd, offset, length = wanted[event.handle]
        if isinstance(event, SimpleReply):
            if event.handle in partial:
                problems.append(f"simple reply to request {index} in the middle of its structured reply")
            results[index] = CommandResult(event.error, event.data, structured=False)
            completed.append(index)
            continue
        result = partial.setdefault(event.handle, CommandResult(0, b"", structured=True))
        result.chunks.append(event)
        _absorb_chunk(result, event, offset, length)
        if event.done:
            if cmd == c.CMD_READ and result.error == 0:
                result.data = _assemble(result, offset, length)
            results[index] = partial.pop(event.handle)
            completed.append(index)
    with contextlib.suppress(ProbeError):  # a timeout here is what we hope for
        event = session.next_event(0.3)
        if isinstance(event, SimpleReply | Chunk):
            stray(event)
    return Pipelined([results[i] for i in range(len(requests))], completed, problems)


def parse_info_export(reply: OptionReply) -> tuple[int, int] | None:
    if reply.reply == c.REP_INFO and len(reply.data) == wire.INFO_EXPORT.size:
        kind, size, flags = wire.INFO_EXPORT.unpack(reply.data)
        if kind == c.INFO_EXPORT:
            return size, flags
    return None


def _absorb_chunk(result: CommandResult, chunk: Chunk, offset: int, length: int) -> None:
    payload = chunk.payload
    if chunk.kind & c.REPLY_TYPE_ERROR_BIT:
        if len(payload) < 6:
            result.problems.append(f"error chunk of {len(payload)} bytes (at least 6)")
            result.error = result.error or c.EINVAL
            return
        error, msg_len = wire.ERROR_PAYLOAD.unpack_from(payload)
        if error == 0:
            result.problems.append("error chunk with error 0")
        if msg_len > len(payload) - 6:
            result.problems.append("error chunk message longer than the chunk")
        result.error = result.error or error or c.EINVAL
        result.message = payload[6 : 6 + msg_len].decode("utf-8", "replace")
    elif chunk.kind == c.REPLY_TYPE_NONE:
        if payload or not chunk.done:
            result.problems.append("NBD_REPLY_TYPE_NONE with a payload or without DONE")
    elif chunk.kind in (c.REPLY_TYPE_OFFSET_DATA, c.REPLY_TYPE_OFFSET_HOLE):
        if chunk.kind == c.REPLY_TYPE_OFFSET_DATA and len(payload) < 9:
            result.problems.append(f"OFFSET_DATA chunk of {len(payload)} bytes (at least 9)")
            return
        if chunk.kind == c.REPLY_TYPE_OFFSET_HOLE and len(payload) != 12:
            result.problems.append(f"OFFSET_HOLE chunk of {len(payload)} bytes (exactly 12)")
            return
        start = wire.U64.unpack_from(payload)[0]
        size = (
            len(payload) - 8
            if chunk.kind == c.REPLY_TYPE_OFFSET_DATA
            else wire.U32.unpack_from(payload, 8)[0]
        )
        if start < offset or start + size > offset + length or size == 0:
            result.problems.append(f"content chunk [{start}, +{size}) outside the request")
    elif chunk.kind == c.REPLY_TYPE_BLOCK_STATUS:
        if len(payload) < 12 or (len(payload) - 4) % 8:
            result.problems.append(f"BLOCK_STATUS chunk of {len(payload)} bytes (4 + 8n, n >= 1)")
    else:
        result.problems.append(f"unknown chunk type {chunk.kind}")


def _assemble(result: CommandResult, offset: int, length: int) -> bytes:
    buf = bytearray(length)
    covered = bytearray(length)
    for chunk in result.chunks:
        if chunk.kind not in (c.REPLY_TYPE_OFFSET_DATA, c.REPLY_TYPE_OFFSET_HOLE) or len(chunk.payload) < 12:
            continue
        start = wire.U64.unpack_from(chunk.payload)[0] - offset
        if chunk.kind == c.REPLY_TYPE_OFFSET_DATA:
            data = chunk.payload[8:]
        else:
            data = bytes(wire.U32.unpack_from(chunk.payload, 8)[0])
        if start < 0 or start + len(data) > length:
            continue
        if any(covered[start : start + len(data)]):
            result.problems.append(f"content chunks overlap at {start + offset}")
        buf[start : start + len(data)] = data
        covered[start : start + len(data)] = b"\1" * len(data)
    if not all(covered):
        result.problems.append("content chunks do not cover the whole request")
    return bytes(buf)


def parse_block_status(chunk: Chunk) -> tuple[int, list[tuple[int, int]]]:
    context_id = wire.U32.unpack_from(chunk.payload)[0]
    extents = [
        wire.EXTENT.unpack_from(chunk.payload, 4 + 8 * i) for i in range((len(chunk.payload) - 4) // 8)
    ]
    return context_id, [(n, f) for n, f in extents]
