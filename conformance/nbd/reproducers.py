"""Minimal reproducers of the known findings (fixtures/nbd/known.json), byte-level with the probe client.

Each takes a running server and answers (does the finding show?, what was seen). Run by
tests/nbd/test_nbd_known.py: a finding whose reproducer stops showing it is stale.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from conformance.nbd.probes import Target
from conformance.nbd.probes_tx import BAD_MAGIC
from conformance.nbd.session import ProbeError, Session
from reference.nbd import constants as c
from reference.nbd import wire
from reference.nbd.client import Chunk, SimpleReply

Reproducer = Callable[[Target], tuple[bool, str]]
DISC_TRIES = 60  # the nbdkit race is intermittent; a connection that closes at once costs milliseconds


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


REPRODUCERS: dict[str, Reproducer] = {
    "bad-magic-answered": bad_magic_answered,
    "read-error-simple": read_error_simple,
    "df-read-refused": df_read_refused,
    "fua-unadvertised-accepted": fua_unadvertised_accepted,
    "disc-stalls": disc_stalls,
}
