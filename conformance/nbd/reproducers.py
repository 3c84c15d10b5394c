"""Minimal reproducers of the known findings (fixtures/nbd/known.json), byte-level with the probe client.

Each takes a running server and answers (does the finding show?, what was seen). Run by
tests/nbd/test_nbd_known.py: a finding whose reproducer stops showing it is stale.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from conformance.nbd.probes import NO_SUCH_EXPORT, Target
from conformance.nbd.probes_tx import BAD_MAGIC
from conformance.nbd.session import ProbeError, Session, parse_info_export
from reference.nbd import constants as c
from reference.nbd import wire
from reference.nbd.client import Chunk, ConnectionClosed, OptionReply, SimpleReply

Reproducer = Callable[[Target], tuple[bool, str]]
DISC_TRIES = 400  # the race is intermittent (1 in 2 to 1 in 20, rarer under load); a clean close costs ms


def bad_magic_answered(t: Target) -> tuple[bool, str]:
    """A READ with magic 0x25609514 (one off): an EINVAL simple reply under its handle, then a close."""
    with t.opened() as s:
        request = bytearray(wire.request(c.CMD_READ, 0x51, 0, 512))
        request[:4] = wire.U32.pack(BAD_MAGIC)
        s.send(bytes(request))
        first = s.next_event(3.0)
        closed = s.closed_within(3.0)
    shows = isinstance(first, SimpleReply) and first.error == c.EINVAL and first.handle == 0x51 and closed
    return shows, f"{first}, then {'closed' if closed else 'open'}"


def _structured_read(t: Target, offset: int, length: int, flags: int = 0) -> tuple[Session, object]:
    s = t.opened(structured=True)
    if not s.structured:
        s.close()
        raise ProbeError("no structured replies negotiated")
    handle = 7
    s.send(s.client.request(c.CMD_READ, handle, offset, length, flags))
    return s, s.next_event(3.0)


def read_error_simple(t: Target) -> tuple[bool, str]:
    """Structured replies on, a READ of 1024 at size-512: the error comes as a simple reply."""
    s, event = _structured_read(t, len(t.original) - 512, 1024)
    s.close()
    return isinstance(event, SimpleReply) and event.error != 0, str(event)


def df_read_refused(t: Target) -> tuple[bool, str]:
    """Structured replies on and NBD_FLAG_SEND_DF advertised, a READ with NBD_CMD_FLAG_DF: EINVAL."""
    s, event = _structured_read(t, 0, 4096, c.CMD_FLAG_DF)
    advertised = bool(s.flags & c.FLAG_SEND_DF)
    s.close()
    refused = isinstance(event, SimpleReply | Chunk) and _error_of(event) == c.EINVAL
    return advertised and refused, f"SEND_DF {'set' if advertised else 'clear'}; {event}"


def _error_of(event: SimpleReply | Chunk) -> int:
    if isinstance(event, SimpleReply):
        return event.error
    return int(wire.U32.unpack_from(event.payload)[0]) if event.kind & 0x8000 else 0


def fua_unadvertised_accepted(t: Target) -> tuple[bool, str]:
    """NBD_FLAG_SEND_FUA clear, a 4 KiB WRITE with NBD_CMD_FLAG_FUA: success."""
    with t.opened() as s:
        advertised = bool(s.flags & c.FLAG_SEND_FUA)
        reply = s.command(c.CMD_WRITE, 704 * 1024, 4096, flags=c.CMD_FLAG_FUA, payload=bytes(4096))
    return not advertised and reply.error == 0, f"flags {s.flags:#x}, write: {c.error_name(reply.error)}"


def disc_stalls(t: Target) -> tuple[bool, str]:
    """NBD_CMD_DISC on fresh connections: one stays open 2 s and closes only once the client half-closes."""
    for attempt in range(1, DISC_TRIES + 1):
        with t.opened() as s:
            s.send(s.client.request(c.CMD_DISC, 1, 0, 0))
            if s.closed_within(2.0):
                continue
            with contextlib.suppress(OSError):
                s.sock.shutdown(socket.SHUT_WR)
            after = s.closed_within(2.0)
            return after, f"connection {attempt}: open 2 s after DISC; closed after SHUT_WR: {after}"
    return False, f"closed after DISC on all {DISC_TRIES} connections"


def client_flags_ignored(t: Target) -> tuple[bool, str]:
    """Client flags with unknown bit 20: the NBD_OPT_LIST that follows is answered, no close."""
    with t.session() as s:
        s.handshake(1 << 20 | c.FLAG_C_FIXED_NEWSTYLE)
        s.send(s.client.option(c.OPT_LIST))
        event = s.next_event(3.0)
    return isinstance(event, OptionReply), f"after client flags 0x00100001, NBD_OPT_LIST: {event}"


def abort_closed_unanswered(t: Target) -> tuple[bool, str]:
    """NBD_OPT_ABORT: the connection ends with no option reply at all (no NBD_REP_ACK)."""
    with t.session() as s:
        s.handshake()
        s.send(s.client.option(c.OPT_ABORT))
        event = s.next_event(3.0)
    return isinstance(event, ConnectionClosed), f"NBD_OPT_ABORT answered by {event}"


def info_size_zero(t: Target) -> tuple[bool, str]:
    """NBD_OPT_INFO then an identical NBD_OPT_GO: INFO says size 0, GO the real size, same flags."""
    with t.session() as s:
        s.handshake()
        data = wire.info_request_data(t.export, [c.INFO_NAME, c.INFO_BLOCK_SIZE])
        info = [e for e in map(parse_info_export, s.option(c.OPT_INFO, data)) if e is not None]
        go = [e for e in map(parse_info_export, s.option(c.OPT_GO, data)) if e is not None]
    if not (info and go):
        return False, f"NBD_INFO_EXPORT missing: INFO {info}, GO {go}"
    (info_size, info_flags), (go_size, go_flags) = info[0], go[0]
    shows = info_size == 0 and go_size == len(t.original) and info_flags == go_flags
    return shows, f"INFO size {info_size} flags {info_flags:#x}; GO size {go_size} flags {go_flags:#x}"


def unknown_export_served(t: Target) -> tuple[bool, str]:
    """NBD_OPT_INFO for a name the server was never given: INFO and ACK, with the real export's size."""
    with t.session() as s:
        s.handshake()
        replies = s.option(c.OPT_INFO, wire.info_request_data(NO_SUCH_EXPORT, []))
    exports = [e for e in map(parse_info_export, replies) if e is not None]
    acked = bool(replies) and replies[-1].reply == c.REP_ACK
    shows = acked and len(exports) == 1 and exports[0][0] == len(t.original)
    names = ", ".join(c.reply_name(r.reply) for r in replies)
    return shows, f"NBD_OPT_INFO {NO_SUCH_EXPORT!r}: {names}; exports {exports}"


def _refusals(t: Target, attempts: list[tuple[str, int, int, int, bytes]]) -> tuple[bool, str]:
    """Each command, structured replies on: EINVAL, with QEMU's own message naming the real cause."""
    seen: list[str] = []
    shows = True
    with t.opened(structured=True) as s:
        for name, cmd, offset, length, payload in attempts:
            reply = s.command(cmd, offset, length, payload=payload)
            seen.append(f"{name}: {c.error_name(reply.error)} {reply.message!r}")
            shows = shows and reply.error == c.EINVAL
        unchanged = s.command(c.CMD_READ, 0, 8192).data == t.original[:8192]
    return shows and unchanged, "; ".join(seen) + f"; data unchanged: {unchanged}"


def read_only_einval(t: Target) -> tuple[bool, str]:
    """A read-only export: WRITE, TRIM and WRITE_ZEROES fail with EINVAL (not EPERM)."""
    return _refusals(
        t,
        [
            ("write", c.CMD_WRITE, 0, 4096, b"\xa5" * 4096),
            ("trim", c.CMD_TRIM, 0, 4096, b""),
            ("write zeroes", c.CMD_WRITE_ZEROES, 4096, 4096, b""),
        ],
    )


def write_past_end_einval(t: Target) -> tuple[bool, str]:
    """A writable export: a WRITE of 1024 at size-512 fails with EINVAL (not ENOSPC)."""
    size = len(t.original)
    return _refusals(t, [("write past the end", c.CMD_WRITE, size - 512, 1024, bytes(1024))])


REPRODUCERS: dict[str, Reproducer] = {
    "bad-magic-answered": bad_magic_answered,
    "read-error-simple": read_error_simple,
    "df-read-refused": df_read_refused,
    "fua-unadvertised-accepted": fua_unadvertised_accepted,
    "disc-stalls": disc_stalls,
    "client-flags-ignored": client_flags_ignored,
    "abort-closed-unanswered": abort_closed_unanswered,
    "info-size-zero": info_size_zero,
    "unknown-export-served": unknown_export_served,
    "read-only-einval": read_only_einval,
    "write-past-end-einval": write_past_end_einval,
}
