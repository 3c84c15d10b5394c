"""The NBD server as a sans-IO state machine: bytes in, Send/Close outputs out.

Fixed newstyle handshake and the transmission phase. Every refusal names the clause
(reference.nbd.clauses) that makes it the right answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from reference.nbd import constants as c
from reference.nbd import wire
from reference.nbd.storage import Storage

MAX_OPTION_DATA = 1 << 16  # longer options are refused (after discarding their data)
MAX_PAYLOAD = 32 << 20  # the maximum block size we advertise
BLOCK_SIZES = (1, 4096, MAX_PAYLOAD)
META_CONTEXT_ID = 1  # our one context's id (base:allocation)
_KNOWN_CLIENT_FLAGS = c.FLAG_C_FIXED_NEWSTYLE | c.FLAG_C_NO_ZEROES
_WRITES = (c.CMD_WRITE, c.CMD_TRIM, c.CMD_WRITE_ZEROES)
# Command flags each command accepts (FUA is valid everywhere once advertised).
_ALLOWED_FLAGS = {
    c.CMD_READ: c.CMD_FLAG_FUA | c.CMD_FLAG_DF,
    c.CMD_WRITE: c.CMD_FLAG_FUA,
    c.CMD_DISC: c.CMD_FLAG_FUA,
    c.CMD_FLUSH: c.CMD_FLAG_FUA,
    c.CMD_TRIM: c.CMD_FLAG_FUA,
    c.CMD_CACHE: c.CMD_FLAG_FUA,
    c.CMD_WRITE_ZEROES: c.CMD_FLAG_FUA | c.CMD_FLAG_NO_HOLE,
    c.CMD_BLOCK_STATUS: c.CMD_FLAG_FUA | c.CMD_FLAG_REQ_ONE,
}


class Phase(StrEnum):
    CLIENT_FLAGS = "client-flags"
    OPTIONS = "options"
    TRANSMISSION = "transmission"
    CLOSED = "closed"


@dataclass(frozen=True)
class Export:
    name: str
    storage: Storage
    read_only: bool
    description: str = ""


@dataclass(frozen=True)
class Send:
    data: tuple[bytes, ...]


@dataclass(frozen=True)
class Close:
    reason: str
    clause: str | None = None


Output = Send | Close


@dataclass
class _Negotiated:
    no_zeroes: bool = False
    structured: bool = False
    meta_export: str | None = None  # the export SET_META_CONTEXT named, when it selected something
    export: Export | None = None


class _Malformed(Exception):
    """An option's data does not parse: the answer is NBD_REP_ERR_INVALID."""


@dataclass
class NbdServerConnection:
    exports: Mapping[str, Export]
    default_export: str | None = None
    phase: Phase = Phase.CLIENT_FLAGS
    _buf: bytearray = field(default_factory=bytearray)
    _discard: int = 0
    _neg: _Negotiated = field(default_factory=_Negotiated)

    @property
    def closed(self) -> bool:
        return self.phase is Phase.CLOSED

    def start(self) -> list[Output]:
        flags = c.FLAG_FIXED_NEWSTYLE | c.FLAG_NO_ZEROES  # hs-fixed-newstyle, hs-no-other-flags
        return [Send((wire.greeting(flags),))]

    def receive_eof(self) -> list[Output]:
        if self.phase is Phase.CLOSED:
            return []
        self.phase = Phase.CLOSED
        return [Close("client closed the connection")]

    def receive(self, data: bytes) -> list[Output]:
        if self.phase is Phase.CLOSED:
            return []
        self._buf += data
        out: list[Output] = []
        while not self.closed:
            step = self._step()
            if step is None:
                break
            out.extend(step)
        return out

    # One message per call, or None when more bytes are needed.
    def _step(self) -> list[Output] | None:
        if self._discard:
            dropped = min(self._discard, len(self._buf))
            del self._buf[:dropped]
            self._discard -= dropped
            if self._discard:
                return None
        if self.phase is Phase.CLIENT_FLAGS:
            return self._client_flags()
        if self.phase is Phase.OPTIONS:
            return self._option()
        return self._request()

    def _take(self, n: int) -> bytes:
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        return chunk

    def _close(self, reason: str, clause: str | None = None) -> list[Output]:
        self.phase = Phase.CLOSED
        return [Close(reason, clause)]

    def _client_flags(self) -> list[Output] | None:
        if len(self._buf) < 4:
            return None
        (flags,) = wire.CLIENT_FLAGS.unpack(self._take(4))
        if flags & ~_KNOWN_CLIENT_FLAGS:
            return self._close(f"unknown client flags {flags:#x}", "hs-unknown-client-flags")
        # A client without C_FIXED_NEWSTYLE is still given fixed newstyle (the spec allows it).
        self._neg.no_zeroes = bool(flags & c.FLAG_C_NO_ZEROES)
        self.phase = Phase.OPTIONS
        return []

    # -- options -----------------------------------------------------------------------------

    def _option(self) -> list[Output] | None:
        if len(self._buf) < wire.OPTION.size:
            return None
        magic, opt, length = wire.OPTION.unpack_from(self._buf)
        if magic != c.IHAVEOPT:
            return self._close(f"bad option magic {magic:#x}")
        if length > MAX_OPTION_DATA:
            del self._buf[: wire.OPTION.size]
            self._discard = length
            if opt == c.OPT_EXPORT_NAME:
                return self._close("export name too long", "opt-export-name-reply")
            return [self._reply(opt, c.REP_ERR_TOO_BIG, "option data too long")]
        if len(self._buf) < wire.OPTION.size + length:
            return None
        del self._buf[: wire.OPTION.size]
        data = self._take(length)
        handler = _OPTION_HANDLERS.get(opt)
        if handler is None:
            # opt-unknown-unsup; the length let us skip its data (opt-unknown-keep-parsing).
            return [self._reply(opt, c.REP_ERR_UNSUP, f"option {opt} not supported")]
        try:
            return handler(self, opt, data)
        except _Malformed as err:
            return [self._reply(opt, c.REP_ERR_INVALID, str(err))]

    @staticmethod
    def _reply(opt: int, reply: int, data: bytes | str = b"") -> Send:
        raw = data.encode() if isinstance(data, str) else data
        return Send((wire.option_reply(opt, reply, raw),))

    def _lookup(self, name: str) -> Export | None:
        if name == "" and self.default_export is not None:
            return self.exports.get(self.default_export)
        return self.exports.get(name)

    def transmission_flags(self, export: Export) -> int:
        flags = (
            c.FLAG_HAS_FLAGS  # tx-has-flags
            | c.FLAG_SEND_FLUSH
            | c.FLAG_SEND_FUA
            | c.FLAG_SEND_TRIM
            | c.FLAG_SEND_WRITE_ZEROES  # no SEND_FAST_ZERO: tx-fast-zero-flag holds trivially
            | c.FLAG_SEND_CACHE
            | c.FLAG_CAN_MULTI_CONN  # one shared buffer, no cache: flushes are visible everywhere
        )
        if export.read_only:
            flags |= c.FLAG_READ_ONLY  # tx-read-only-flag
        if self._neg.structured:
            flags |= c.FLAG_SEND_DF  # tx-df-flag: only with structured replies
        return flags

    def _opt_export_name(self, opt: int, data: bytes) -> list[Output]:
        export = self._lookup(data.decode("utf-8", "replace"))
        if export is None:
            # It cannot be errored: the session ends (opt-export-name-reply).
            return self._close("NBD_OPT_EXPORT_NAME names no export", "opt-export-name-reply")
        reply = wire.EXPORT_NAME_REPLY.pack(export.storage.size, self.transmission_flags(export))
        if not self._neg.no_zeroes:
            reply += wire.ZEROES_124  # opt-export-name-no-zeroes
        self._enter_transmission(export)
        return [Send((reply,))]

    def _enter_transmission(self, export: Export) -> None:
        self._neg.export = export
        self.phase = Phase.TRANSMISSION

    def _opt_abort(self, opt: int, data: bytes) -> list[Output]:
        # opt-abort-ack; any data is ignored, as the spec asks of servers.
        return [self._reply(opt, c.REP_ACK), *self._close("client aborted the negotiation")]

    def _opt_list(self, opt: int, data: bytes) -> list[Output]:
        if data:
            raise _Malformed("NBD_OPT_LIST takes no data")  # opt-list-data-invalid
        out: list[Output] = []
        for export in self.exports.values():
            name = export.name.encode()
            out.append(
                self._reply(opt, c.REP_SERVER, wire.U32.pack(len(name)) + name + export.description.encode())
            )
        out.append(self._reply(opt, c.REP_ACK))  # opt-list
        return out

    def _opt_starttls(self, opt: int, data: bytes) -> list[Output]:
        if data:
            raise _Malformed("NBD_OPT_STARTTLS takes no data")
        return [self._reply(opt, c.REP_ERR_POLICY, "TLS is not offered")]  # opt-starttls-notls

    def _opt_info_go(self, opt: int, data: bytes) -> list[Output]:
        name, rest = _string32(data, "export name")
        if len(rest) < 2:
            raise _Malformed("information request count missing")
        (count,) = wire.U16.unpack_from(rest)
        if len(rest) != 2 + 2 * count:
            raise _Malformed("information request list does not match its count")
        requests = {wire.U16.unpack_from(rest, 2 + 2 * i)[0] for i in range(count)}
        export = self._lookup(name)
        if export is None:
            return [self._reply(opt, c.REP_ERR_UNKNOWN, f"no export {name!r}")]  # opt-info-unknown-export
        size, flags = export.storage.size, self.transmission_flags(export)
        out: list[Output] = [
            self._reply(opt, c.REP_INFO, wire.INFO_EXPORT.pack(c.INFO_EXPORT, size, flags))
        ]  # opt-info-export
        if c.INFO_NAME in requests:
            out.append(self._reply(opt, c.REP_INFO, wire.U16.pack(c.INFO_NAME) + export.name.encode()))
        if c.INFO_DESCRIPTION in requests and export.description:
            text = export.description.encode()
            out.append(self._reply(opt, c.REP_INFO, wire.U16.pack(c.INFO_DESCRIPTION) + text))
        if c.INFO_BLOCK_SIZE in requests:
            out.append(
                self._reply(opt, c.REP_INFO, wire.INFO_BLOCK_SIZE.pack(c.INFO_BLOCK_SIZE, *BLOCK_SIZES))
            )
        out.append(self._reply(opt, c.REP_ACK))
        if opt == c.OPT_GO:
            if self._neg.meta_export is not None and self._neg.meta_export != export.name:
                self._neg.meta_export = None  # contexts chosen for another export do not carry over
            self._enter_transmission(export)  # opt-go-transmission: no padding follows
        return out

    def _opt_structured_reply(self, opt: int, data: bytes) -> list[Output]:
        if data:
            raise _Malformed("NBD_OPT_STRUCTURED_REPLY takes no data")  # opt-structured-reply-data
        self._neg.structured = True
        return [self._reply(opt, c.REP_ACK)]

    def _opt_meta_context(self, opt: int, data: bytes) -> list[Output]:
        setting = opt == c.OPT_SET_META_CONTEXT
        if setting:
            self._neg.meta_export = None  # a SET replaces the selection, even when it fails
        if not self._neg.structured:
            raise _Malformed("negotiate structured replies first")  # opt-set-meta-needs-sr
        name, rest = _string32(data, "export name")
        if len(rest) < 4:
            raise _Malformed("query count missing")
        (count,) = wire.U32.unpack_from(rest)
        rest = rest[4:]
        queries = []
        for _ in range(count):
            query, rest = _string32(rest, "query")  # opt-meta-malformed
            queries.append(query)
        if rest:
            raise _Malformed("trailing data after the queries")
        for query in queries:
            if ":" not in query:
                raise _Malformed(f"query {query!r} lacks a namespace")
        export = self._lookup(name)
        if export is None:
            return [self._reply(opt, c.REP_ERR_UNKNOWN, f"no export {name!r}")]
        if setting:
            # Only the exact name selects; "base:" and unknown leaves or namespaces are ignored.
            found = c.BASE_ALLOCATION in queries
        else:
            found = not queries or any(q in ("base:", c.BASE_ALLOCATION) for q in queries)
        out: list[Output] = []
        if found:
            context_id = META_CONTEXT_ID if setting else 0  # LIST replies carry id 0
            payload = wire.U32.pack(context_id) + c.BASE_ALLOCATION.encode()
            out.append(self._reply(opt, c.REP_META_CONTEXT, payload))
            if setting:
                self._neg.meta_export = export.name
        out.append(self._reply(opt, c.REP_ACK))
        return out

    # -- transmission --------------------------------------------------------------------------

    def _request(self) -> list[Output] | None:
        if len(self._buf) < wire.REQUEST.size:
            return None
        magic, flags, cmd, handle, offset, length = wire.REQUEST.unpack_from(self._buf)
        if magic != c.REQUEST_MAGIC:
            return self._close(f"bad request magic {magic:#x}")
        if cmd == c.CMD_WRITE:
            if length > MAX_PAYLOAD:
                return self._close(f"write of {length} bytes exceeds the maximum block size")
            if len(self._buf) < wire.REQUEST.size + length:
                return None
        del self._buf[: wire.REQUEST.size]
        payload = memoryview(self._take(length)) if cmd == c.CMD_WRITE else memoryview(b"")
        return self._command(cmd, flags, handle, offset, length, payload)

    def _command(
        self, cmd: int, flags: int, handle: int, offset: int, length: int, payload: memoryview
    ) -> list[Output]:
        export = self._neg.export
        assert export is not None
        storage = export.storage
        allowed = _ALLOWED_FLAGS.get(cmd)
        if allowed is None:
            return self._error(handle, cmd, c.EINVAL, f"unknown command {cmd}")  # tx-unknown-command
        if not self._neg.structured:
            allowed &= ~c.CMD_FLAG_DF
        if flags & ~allowed:
            return self._error(handle, cmd, c.EINVAL, f"flags {flags:#x} not valid here")  # tx-unknown-flag
        if cmd == c.CMD_DISC:
            return self._close("client sent NBD_CMD_DISC", "tx-disc")  # no reply
        if cmd in _WRITES and export.read_only:
            # tx-read-only-refuses with tx-read-only-eperm; nothing is touched (tx-read-only-unchanged).
            return self._error(handle, cmd, c.EPERM, "export is read-only")
        if cmd != c.CMD_FLUSH and offset + length > storage.size:
            error = c.ENOSPC if cmd in (c.CMD_WRITE, c.CMD_WRITE_ZEROES) else c.EINVAL
            return self._error(handle, cmd, error, "request reaches past the end of the export")
        if cmd == c.CMD_READ:
            return self._read(handle, offset, length, storage)
        if cmd == c.CMD_BLOCK_STATUS:
            return self._block_status(handle, flags, offset, length, storage)
        if cmd == c.CMD_WRITE:
            storage.write(offset, payload)
        elif cmd == c.CMD_WRITE_ZEROES:
            storage.zero(offset, length)  # tx-write-zeroes: reads back as zeroes
        elif cmd == c.CMD_TRIM:
            storage.trim(offset, length)
        elif cmd == c.CMD_FLUSH:
            storage.flush()
        # CACHE: no cache here, nothing to do (tx-cache).
        if flags & c.CMD_FLAG_FUA and cmd in _WRITES:
            storage.flush()
        return [Send((wire.simple_reply(handle, 0),))]

    def _error(self, handle: int, cmd: int, error: int, message: str) -> list[Output]:
        # Structured errors once negotiated (a read must not get a simple reply then).
        if self._neg.structured:
            return [Send((wire.error_chunk(handle, error, message),))]
        return [Send((wire.simple_reply(handle, error),))]

    def _read(self, handle: int, offset: int, length: int, storage: Storage) -> list[Output]:
        if length > MAX_PAYLOAD:
            return self._error(handle, c.CMD_READ, c.EINVAL, "read exceeds the maximum block size")
        data = storage.read(offset, length)
        if not self._neg.structured:
            return [Send((wire.simple_reply(handle, 0), data))]  # tx-simple-only
        if length == 0:
            header = wire.chunk_header(handle, c.REPLY_FLAG_DONE, c.REPLY_TYPE_NONE, 0)
            return [Send((header,))]
        # One OFFSET_DATA chunk flagged DONE: DF is honoured by construction (tx-read-structured).
        header = wire.chunk_header(handle, c.REPLY_FLAG_DONE, c.REPLY_TYPE_OFFSET_DATA, 8 + length)
        return [Send((header + wire.U64.pack(offset), data))]

    def _block_status(
        self, handle: int, flags: int, offset: int, length: int, storage: Storage
    ) -> list[Output]:
        export = self._neg.export
        assert export is not None
        if self._neg.meta_export != export.name:
            return self._error(handle, c.CMD_BLOCK_STATUS, c.EINVAL, "no metadata context selected")
        extents = storage.extents(offset, length)
        if flags & c.CMD_FLAG_REQ_ONE:
            first_len, first_flags = extents[0]
            extents = [(min(first_len, max(length, 1)), first_flags)]
        payload = wire.U32.pack(META_CONTEXT_ID) + b"".join(wire.EXTENT.pack(n, f) for n, f in extents)
        header = wire.chunk_header(handle, c.REPLY_FLAG_DONE, c.REPLY_TYPE_BLOCK_STATUS, len(payload))
        return [Send((header + payload,))]


def _string32(data: bytes, what: str) -> tuple[str, bytes]:
    if len(data) < 4:
        raise _Malformed(f"{what} length missing")
    (n,) = wire.U32.unpack_from(data)
    if 4 + n > len(data):
        raise _Malformed(f"{what} reaches past the option data")
    try:
        return data[4 : 4 + n].decode("utf-8"), data[4 + n :]
    except UnicodeDecodeError:
        raise _Malformed(f"{what} is not UTF-8") from None


_OPTION_HANDLERS = {
    c.OPT_EXPORT_NAME: NbdServerConnection._opt_export_name,
    c.OPT_ABORT: NbdServerConnection._opt_abort,
    c.OPT_LIST: NbdServerConnection._opt_list,
    c.OPT_STARTTLS: NbdServerConnection._opt_starttls,
    c.OPT_INFO: NbdServerConnection._opt_info_go,
    c.OPT_GO: NbdServerConnection._opt_info_go,
    c.OPT_STRUCTURED_REPLY: NbdServerConnection._opt_structured_reply,
    c.OPT_LIST_META_CONTEXT: NbdServerConnection._opt_meta_context,
    c.OPT_SET_META_CONTEXT: NbdServerConnection._opt_meta_context,
}
