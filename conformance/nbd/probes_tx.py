"""Transmission probes beyond one request at a time: FUA, REQ_ONE, malformed requests, block size
constraints, requests in flight together, and the rules every structured reply chunk follows."""

from __future__ import annotations

import contextlib

from conformance.nbd.probes import Probe, Target, _pattern
from conformance.nbd.session import CommandResult, ProbeError, Session, parse_block_status, pipeline
from conformance.nbd.verdicts import Recorder
from reference.nbd import constants as c
from reference.nbd import wire
from reference.nbd.client import ConnectionClosed, SimpleReply

FUA_OFFSET = 704 * 1024  # clear of the ranges other probes write (576K, 640K, 768K)
IN_FLIGHT_OFFSET = 832 * 1024
BAD_MAGIC = 0x2560_9514  # one off NBD_REQUEST_MAGIC


def fua(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        data = _pattern(4096, 11)
        reply = s.command(c.CMD_WRITE, FUA_OFFSET, len(data), flags=c.CMD_FLAG_FUA, payload=data)
        if not s.flags & c.FLAG_SEND_FUA:
            r.na("tx-fua-accepted", "NBD_FLAG_SEND_FUA not advertised")
            got = c.error_name(reply.error)
            r.check("tx-fua-unadvertised", reply.error == c.EINVAL, f"FUA write without SEND_FUA: {got}")
            return
        r.na("tx-fua-unadvertised", "NBD_FLAG_SEND_FUA advertised")
        back = s.command(c.CMD_READ, FUA_OFFSET, len(data)).data
        ok = reply.error == 0 and back == data
        r.check("tx-fua-accepted", ok, f"FUA write: {c.error_name(reply.error)}, reads back {ok}")
        if s.flags & c.FLAG_SEND_WRITE_ZEROES:
            zero = s.command(c.CMD_WRITE_ZEROES, FUA_OFFSET, len(data), flags=c.CMD_FLAG_FUA)
            ok = zero.error == 0 and s.command(c.CMD_READ, FUA_OFFSET, len(data)).data == bytes(len(data))
            r.check("tx-fua-accepted", ok, f"FUA write zeroes: {c.error_name(zero.error)}")


def block_status_req_one(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        if s.option(c.OPT_STRUCTURED_REPLY)[-1].reply != c.REP_ACK:
            r.na("tx-req-one", "no structured replies")
            return
        chosen = s.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data(t.export, [c.BASE_ALLOCATION]))
        s.go(t.export)
        if not any(x.reply == c.REP_META_CONTEXT for x in chosen):
            r.na("tx-req-one", "base:allocation not offered")
            return
        # The file-backed export has data then zeroes: without REQ_ONE that is two extents or more.
        for offset in (0, s.size // 2 - 4096):
            reply = s.command(c.CMD_BLOCK_STATUS, offset, s.size - offset, flags=c.CMD_FLAG_REQ_ONE)
            counts = [
                len(parse_block_status(x)[1]) for x in reply.chunks if x.kind == c.REPLY_TYPE_BLOCK_STATUS
            ]
            ok = reply.error == 0 and bool(counts) and all(n == 1 for n in counts) and not reply.problems
            why = "; ".join(reply.problems) or c.error_name(reply.error)
            r.check("tx-req-one", ok, f"REQ_ONE from {offset}: descriptors per chunk {counts} ({why})")


def bad_magic(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        request = bytearray(wire.request(c.CMD_READ, 1, 0, 512))
        request[:4] = wire.U32.pack(BAD_MAGIC)
        s.send(bytes(request))
        try:
            first = s.next_event(3.0)
        except ProbeError as err:
            r.check("tx-bad-magic", False, f"no close: {err}")
            return
        if isinstance(first, ConnectionClosed):
            r.check("tx-bad-magic", True, "closed, no reply")
            return
        # Replying trusts the handle of a request it could not parse; say whether it closed after.
        closed = s.closed_within(3.0)
        after = "then closed" if closed else "and kept the connection open"
        r.check("tx-bad-magic", False, f"answered it ({_describe(first)}) {after}")


def _describe(event: object) -> str:
    if isinstance(event, SimpleReply):
        return f"simple reply, {c.error_name(event.error)}, handle {event.handle:#x}"
    return type(event).__name__


def _min_block(s: Session, t: Target) -> int | None:
    replies = s.go(t.export, [c.INFO_BLOCK_SIZE])
    for x in replies:
        if x.reply == c.REP_INFO and len(x.data) == wire.INFO_BLOCK_SIZE.size:
            kind, minimum, _preferred, _maximum = wire.INFO_BLOCK_SIZE.unpack(x.data)
            if kind == c.INFO_BLOCK_SIZE:
                return int(minimum)
    return None


def unaligned(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        minimum = _min_block(s, t)
        if minimum is None or minimum <= 1:
            r.na("tx-block-size-unaligned", f"advertised minimum block size: {minimum}")
            return
        offset = minimum + minimum // 2
        reply = s.command(c.CMD_READ, offset, minimum)
        served = reply.error == 0 and reply.data == t.original[offset : offset + minimum]
        after = s.command(c.CMD_READ, 0, minimum)
        goes_on = after.error == 0 and after.data == t.original[:minimum]
        ok = (reply.error == c.EINVAL or served) and goes_on
        r.check(
            "tx-block-size-unaligned",
            ok,
            f"minimum {minimum}, read {minimum} at {offset}: {c.error_name(reply.error)}"
            f"{' (data right)' if served else ''}; "
            f"an aligned read after it {'works' if goes_on else 'fails'}",
        )


def _read_ok(t: Target, reply: CommandResult, offset: int, length: int) -> bool:
    return reply.error == 0 and not reply.problems and reply.data == t.original[offset : offset + length]


def in_flight(t: Target, r: Recorder) -> None:
    reads = [(0, 65536), (len(t.original) - 4096, 4096), (1000, 3000), (65536, 131072), (512, 512)]
    for structured in (False, True):
        with t.opened(structured=structured) as s:
            requests = [(c.CMD_READ, off, n, 0, b"") for off, n in reads]
            data = _pattern(8192, 13 if structured else 17)
            if not t.read_only:
                requests.append((c.CMD_WRITE, IN_FLIGHT_OFFSET, len(data), 0, data))
            if s.flags & c.FLAG_SEND_FLUSH:
                requests.append((c.CMD_FLUSH, 0, 0, 0, b""))
            got = pipeline(s, requests)
            bad = [i for i, (off, n) in enumerate(reads) if not _read_ok(t, got.results[i], off, n)]
            failed = [i for i, x in enumerate(got.results[len(reads) :], len(reads)) if x.error]
            kind = "structured" if s.structured else "simple"
            order = "in order" if got.completed == sorted(got.completed) else f"order {got.completed}"
            why = "; ".join(got.problems) or f"{len(requests)} replies, {order}"
            if bad or failed:
                why += f"; wrong reads {bad}, failed requests {failed}"
            r.check("tx-in-flight", not (got.problems or bad or failed), f"{kind}: {why}")
            r.check("tx-handle", not got.problems, f"{kind}, {len(requests)} in flight: handles matched")
            if not t.read_only:
                back = s.command(c.CMD_READ, IN_FLIGHT_OFFSET, len(data)).data
                r.check("tx-in-flight", back == data, f"{kind}: the write in flight reads back")


def structured_chunks(t: Target, r: Recorder) -> None:
    with t.opened(structured=True) as s:
        if not s.structured:
            for clause in r.clauses:
                r.na(clause, "no structured replies")
            return
        requests = [
            (c.CMD_READ, 0, 65536, 0, b""),
            (c.CMD_READ, s.size - 512, 1024, 0, b""),  # past the end: an error
            (c.CMD_READ, 0, 512, 1 << 14, b""),  # an unknown flag: an error
            (c.CMD_READ, s.size // 2, 65536, 0, b""),  # zeroes: a hole chunk is allowed
            (c.CMD_FLUSH if s.flags & c.FLAG_SEND_FLUSH else c.CMD_CACHE, 0, 0, 0, b""),
        ]
        got = pipeline(s, requests)
        reads = [(i, x) for i, x in enumerate(got.results) if requests[i][0] == c.CMD_READ]
        simple = [i for i, x in reads if not x.structured]
        why = f"reads answered by simple replies: {simple or 'none'}"
        r.check("tx-read-structured-only", not simple, why)
        errors = [i for i, x in reads if x.error == 0 and requests[i][1] + requests[i][2] > s.size]
        r.check("tx-read-bounds", not errors, f"structured read past the end: {got.results[1].error}")
        r.check("tx-chunk-done-last", not got.problems, "; ".join(got.problems) or "nothing after DONE")
        chunks = [ch for x in got.results for ch in x.chunks]
        flagged = sorted({ch.flags for ch in chunks if ch.flags & ~c.REPLY_FLAG_DONE})
        r.check("tx-chunk-flags", not flagged, f"{len(chunks)} chunks; other flags: {flagged or 'none'}")
        problems = [f"request {i}: {p}" for i, x in enumerate(got.results) for p in x.problems]
        r.check("tx-chunk-format", not problems, "; ".join(problems) or f"{len(chunks)} chunks well formed")
        ok = [i for i in (0, 3) if not _read_ok(t, got.results[i], requests[i][1], requests[i][2])]
        why = f"reads in flight with errors beside them: wrong {ok or 'none'}"
        r.check("tx-read-structured", not ok, why)
        with contextlib.suppress(OSError):
            s.send(s.client.request(c.CMD_DISC, 1, 0, 0))


TX_PROBES: dict[str, Probe] = {
    "fua": fua,
    "block-status-req-one": block_status_req_one,
    "bad-magic": bad_magic,
    "unaligned": unaligned,
    "in-flight": in_flight,
    "structured-chunks": structured_chunks,
}
