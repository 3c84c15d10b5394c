"""The probes: each speaks to the server through the sans-IO probe client and judges clauses.

A probe is a function Target -> Recorder checks; fixtures/nbd/probes.json lists them with the
clauses each one judges and the modes it runs in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from conformance.nbd.session import Address, ProbeError, Session, parse_block_status, parse_info_export
from conformance.nbd.verdicts import Recorder
from reference.nbd import constants as c
from reference.nbd import wire
from reference.nbd.client import OptionReply

UNKNOWN_OPTION = 0x4242_0001
NO_SUCH_EXPORT = "qconform-no-such-export"
PATTERN_OFFSET = 576 * 1024  # writes stay clear of the ranges probes compare with the original


@dataclass(frozen=True)
class Target:
    """A running server: where it listens, its export, and what it was started with."""

    name: str
    address: Address
    export: str
    read_only: bool
    original: bytes  # the export's content when the server started

    def session(self) -> Session:
        return Session(self.address)

    def opened(self, *, structured: bool = False, meta: bool = False) -> Session:
        s = self.session()
        s.handshake()
        if structured:
            s.option(c.OPT_STRUCTURED_REPLY)
        if meta:
            s.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data(self.export, [c.BASE_ALLOCATION]))
        s.go(self.export)
        return s


Probe = Callable[[Target, Recorder], None]


def _names(replies: list[OptionReply]) -> str:
    return ", ".join(c.reply_name(r.reply) for r in replies)


def _pattern(length: int, seed: int) -> bytes:
    return bytes((i * 7 + seed) & 0xFF or 1 for i in range(length))


def handshake(t: Target, r: Recorder) -> None:
    with t.session() as s:
        flags = s.greeting()
        r.check("hs-magic", True, "NBDMAGIC and IHAVEOPT received")
        r.check("hs-fixed-newstyle", bool(flags & c.FLAG_FIXED_NEWSTYLE), f"handshake flags {flags:#x}")
        extra = flags & ~(c.FLAG_FIXED_NEWSTYLE | c.FLAG_NO_ZEROES)
        r.check("hs-no-other-flags", not extra, f"handshake flags {flags:#x}")


def bad_client_flags(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.greeting()
        s.send(wire.CLIENT_FLAGS.pack(1 << 20 | c.FLAG_C_FIXED_NEWSTYLE))
        with contextlib.suppress(OSError):  # already closed: what we want
            s.send(wire.option(c.OPT_LIST))
        closed = s.closed_within(3.0)
        r.check(
            "hs-unknown-client-flags",
            closed,
            "closed" if closed else "server went on after client flag bit 20",
        )


def unknown_option(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        replies = s.option(UNKNOWN_OPTION, b"qconform")
        r.check("opt-reply-format", True, "reply magic and option echoed")
        got = replies[-1].reply
        r.check("opt-unknown-unsup", got == c.REP_ERR_UNSUP, f"option {UNKNOWN_OPTION:#x}: {_names(replies)}")
        r.check("opt-no-tls-reqd", got != c.REP_ERR_TLS_REQD, f"unknown option: {c.reply_name(got)}")
        after = s.option(c.OPT_LIST)
        ok = after[-1].final and after[-1].reply in (c.REP_ACK, c.REP_ERR_POLICY, c.REP_ERR_UNSUP)
        r.check("opt-unknown-keep-parsing", ok, f"NBD_OPT_LIST afterwards: {_names(after)}")


def abort(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        s.send(s.client.option(c.OPT_ABORT))
        try:
            event = s.next_event()
        except ProbeError as err:
            r.check("opt-abort-ack", False, f"no reply to NBD_OPT_ABORT: {err}")
            return
        ok = isinstance(event, OptionReply) and event.reply == c.REP_ACK
        r.check("opt-abort-ack", ok, f"NBD_OPT_ABORT answered by {event}")


def list_exports(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        replies = s.option(c.OPT_LIST)
        last = replies[-1].reply
        servers = [x for x in replies if x.reply == c.REP_SERVER]
        shape = all(x.reply == c.REP_SERVER for x in replies[:-1])
        r.check("opt-list", shape and (last == c.REP_ACK or bool(last & c.REP_ERR_BIT)), _names(replies))
        for x in servers:
            n = wire.U32.unpack_from(x.data)[0] if len(x.data) >= 4 else -1
            r.check(
                "opt-list-server-format", 0 <= n <= len(x.data) - 4, f"name length {n}, reply {len(x.data)}"
            )
        if not servers:
            r.na("opt-list-server-format", f"no NBD_REP_SERVER ({_names(replies)})")
        bad = s.option(c.OPT_LIST, b"junk")
        got = bad[-1].reply
        r.check("opt-list-data-invalid", got == c.REP_ERR_INVALID, f"NBD_OPT_LIST with data: {_names(bad)}")


def starttls(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        replies = s.option(c.OPT_STARTTLS)
        got = replies[-1].reply
        r.check("opt-starttls-notls", bool(got & c.REP_ERR_BIT), f"NBD_OPT_STARTTLS: {c.reply_name(got)}")
        r.check("opt-no-tls-reqd", got != c.REP_ERR_TLS_REQD, f"NBD_OPT_STARTTLS: {c.reply_name(got)}")
        after = s.option(c.OPT_STRUCTURED_REPLY)
        r.check("opt-no-tls-reqd", after[-1].reply != c.REP_ERR_TLS_REQD, f"then SR: {_names(after)}")


def info_go(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        data = wire.info_request_data(t.export, [c.INFO_NAME, c.INFO_BLOCK_SIZE])
        info = s.option(c.OPT_INFO, data)
        exports = [e for e in map(parse_info_export, info) if e is not None]
        ok = info[-1].reply == c.REP_ACK and len(exports) == 1
        r.check("opt-info-export", ok, f"NBD_OPT_INFO: {_names(info)}")
        go = s.option(c.OPT_GO, data)
        go_exports = [e for e in map(parse_info_export, go) if e is not None]
        r.check(
            "opt-info-export", go[-1].reply == c.REP_ACK and len(go_exports) == 1, f"NBD_OPT_GO: {_names(go)}"
        )
        if not (exports and go_exports):
            raise ProbeError("no NBD_INFO_EXPORT to compare", "opt-info-export")
        r.check(
            "opt-info-go-consistent", exports[0] == go_exports[0], f"INFO {exports[0]}, GO {go_exports[0]}"
        )
        size, flags = go_exports[0]
        _judge_flags(t, r, size, flags, structured=False)
        reply = s.command(c.CMD_READ, 0, 512)
        ok = reply.error == 0 and len(reply.data) == 512 and not reply.structured
        r.check("opt-go-transmission", ok, f"read after GO: {c.error_name(reply.error)}")


def _judge_flags(t: Target, r: Recorder, size: int, flags: int, *, structured: bool) -> None:
    r.check("tx-has-flags", bool(flags & c.FLAG_HAS_FLAGS), f"transmission flags {flags:#x}")
    ro = bool(flags & c.FLAG_READ_ONLY)
    r.check(
        "tx-read-only-flag", ro == t.read_only, f"READ_ONLY {'set' if ro else 'clear'}, served {_mode(t)}"
    )
    if not structured:
        r.check("tx-df-flag", not flags & c.FLAG_SEND_DF, f"SEND_DF without structured replies: {flags:#x}")
    bad_fz = flags & c.FLAG_SEND_FAST_ZERO and not flags & c.FLAG_SEND_WRITE_ZEROES
    r.check("tx-fast-zero-flag", not bad_fz, f"transmission flags {flags:#x}")
    r.check("tx-read", size == len(t.original), f"export size {size}, expected {len(t.original)}")


def _mode(t: Target) -> str:
    return "read-only" if t.read_only else "writable"


def info_unknown_export(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        replies = s.option(c.OPT_INFO, wire.info_request_data(NO_SUCH_EXPORT, []))
        infos = [x for x in replies if x.reply == c.REP_INFO]
        got = replies[-1].reply
        ok = got == c.REP_ERR_UNKNOWN and not infos
        r.check("opt-info-unknown-export", ok, f"NBD_OPT_INFO {NO_SUCH_EXPORT!r}: {_names(replies)}")


def export_name(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake(c.FLAG_C_FIXED_NEWSTYLE)
        reply = s.export_name(t.export)
        ok = reply.padding == bytes(124)
        r.check(
            "opt-export-name-reply",
            ok,
            f"size {reply.size}, flags {reply.flags:#x}, {len(reply.padding)} pad",
        )
        _judge_flags(t, r, reply.size, reply.flags, structured=False)
        read = s.command(c.CMD_READ, 0, 512)
        r.check("tx-read", read.data == t.original[:512], "read after NBD_OPT_EXPORT_NAME")
    with t.session() as s:
        flags = s.greeting()
        if not flags & c.FLAG_NO_ZEROES:
            r.na("opt-export-name-no-zeroes", "server does not offer NBD_FLAG_NO_ZEROES")
            return
        s.send(s.client.client_flags(c.FLAG_C_FIXED_NEWSTYLE | c.FLAG_C_NO_ZEROES))
        s.export_name(t.export)
        read = s.command(c.CMD_READ, 0, 512)
        ok = read.error == 0 and read.data == t.original[:512]
        r.check("opt-export-name-no-zeroes", ok, "a read right after the 10-byte reply parses")


def structured_reply(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        bad = s.option(c.OPT_STRUCTURED_REPLY, b"x")
        got = bad[-1].reply
        r.check("opt-structured-reply-data", got == c.REP_ERR_INVALID, f"with data: {c.reply_name(got)}")
        replies = s.option(c.OPT_STRUCTURED_REPLY)
        got = replies[-1].reply
        if got == c.REP_ERR_UNSUP:
            r.na("opt-structured-reply", "server does not offer structured replies")
        else:
            r.check("opt-structured-reply", got == c.REP_ACK, f"NBD_OPT_STRUCTURED_REPLY: {_names(replies)}")


def meta_context(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        early = s.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data(t.export, [c.BASE_ALLOCATION]))
        if s.option(c.OPT_STRUCTURED_REPLY)[-1].reply != c.REP_ACK:
            r.check(
                "opt-set-meta-needs-sr", early[-1].reply == c.REP_ERR_INVALID, f"before SR: {_names(early)}"
            )
            return
        listed = s.option(c.OPT_LIST_META_CONTEXT, wire.meta_context_data(t.export, ["base:"]))
        later = s.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data(t.export, [c.BASE_ALLOCATION]))
        if listed[-1].reply == later[-1].reply == early[-1].reply == c.REP_ERR_UNSUP:
            # ERR_UNSUP is the answer to an option a server does not implement: metadata contexts
            # are optional, so the clauses on how they are answered do not apply.
            for clause in r.clauses:
                r.na(clause, "NBD_OPT_LIST/SET_META_CONTEXT not implemented (ERR_UNSUP, also after SR)")
            return
        got = early[-1].reply
        r.check("opt-set-meta-needs-sr", got == c.REP_ERR_INVALID, f"before SR: {_names(early)}")
        names = [x.data[4:].decode("utf-8", "replace") for x in listed if x.reply == c.REP_META_CONTEXT]
        if listed[-1].reply == c.REP_ERR_UNSUP:
            r.na("opt-list-meta", "NBD_OPT_LIST_META_CONTEXT not supported")
        else:
            ok = listed[-1].reply == c.REP_ACK and c.BASE_ALLOCATION in names
            r.check("opt-list-meta", ok, f"'base:' lists {names} ({_names(listed)})")
        unknown = s.option(
            c.OPT_LIST_META_CONTEXT, wire.meta_context_data(t.export, ["x-qconform-nosuch:thing"])
        )
        r.check(
            "opt-meta-unknown-namespace", _names(unknown) == "ACK", f"unknown namespace: {_names(unknown)}"
        )
        leaf = s.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data(t.export, ["base:qconform-nosuch"]))
        r.check("opt-meta-unknown-leaf", _names(leaf) == "ACK", f"base:qconform-nosuch: {_names(leaf)}")
        # A query whose length runs past the option's data.
        data = wire.string32(t.export) + wire.U32.pack(1) + wire.U32.pack(400) + b"base:"
        bad = s.option(c.OPT_LIST_META_CONTEXT, data)
        r.check("opt-meta-malformed", bad[-1].reply == c.REP_ERR_INVALID, f"overlong query: {_names(bad)}")
        none = s.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data(t.export, []))
        r.check("opt-set-meta-zero-queries", _names(none) == "ACK", f"zero queries: {_names(none)}")
        chosen = s.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data(t.export, [c.BASE_ALLOCATION]))
        names = [x.data[4:].decode("utf-8", "replace") for x in chosen if x.reply == c.REP_META_CONTEXT]
        ok = chosen[-1].reply == c.REP_ACK and names == [c.BASE_ALLOCATION]
        r.check("opt-set-meta-base-allocation", ok, f"{_names(chosen)} naming {names}")


def read_simple(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        for offset, length in ((0, 4096), (len(t.original) - 512, 512), (1000, 3000)):
            reply = s.command(c.CMD_READ, offset, length)
            r.check("tx-simple-only", not reply.structured, "read reply kind")
            ok = reply.error == 0 and reply.data == t.original[offset : offset + length]
            r.check("tx-read", ok, f"read {length} at {offset}: {c.error_name(reply.error)}")
        r.check("tx-handle", True, "every reply carried its request's handle")


def read_structured(t: Target, r: Recorder) -> None:
    with t.opened(structured=True) as s:
        if not s.structured:
            r.na("tx-read-structured", "no structured replies")
            return
        for offset, length, flags in ((0, 65536, 0), (1000, 3000, 0), (0, 65536, c.CMD_FLAG_DF)):
            if flags & c.CMD_FLAG_DF and not s.flags & c.FLAG_SEND_DF:
                continue
            reply = s.command(c.CMD_READ, offset, length, flags)
            ok = reply.structured and reply.error == 0 and not reply.problems
            ok = ok and reply.data == t.original[offset : offset + length]
            if flags & c.CMD_FLAG_DF:
                content = [
                    x for x in reply.chunks if x.kind in (c.REPLY_TYPE_OFFSET_DATA, c.REPLY_TYPE_OFFSET_HOLE)
                ]
                ok = ok and len(content) <= 1
            why = "; ".join(reply.problems) or c.error_name(reply.error)
            r.check("tx-read-structured", ok, f"read {length} at {offset} flags {flags:#x}: {why}")
        r.check("tx-handle", True, "every chunk carried its request's handle")


def read_only_writes(t: Target, r: Recorder) -> None:
    for structured in (False, True):
        with t.opened(structured=structured) as s:
            kind = "structured" if s.structured else "simple"
            advertised = bool(s.flags & c.FLAG_READ_ONLY)
            attempts = (
                ("write", c.CMD_WRITE, 0, 4096, b"\xa5" * 4096),
                ("trim", c.CMD_TRIM, 0, 4096, b""),
                ("write zeroes", c.CMD_WRITE_ZEROES, 4096, 4096, b""),
            )
            for name, cmd, offset, length, payload in attempts:
                reply = s.command(cmd, offset, length, payload=payload)
                what = f"{name} ({kind}): {c.error_name(reply.error)}"
                if advertised:
                    r.check("tx-read-only-refuses", reply.error != 0, what)
                if reply.error:
                    r.check("tx-read-only-eperm", reply.error == c.EPERM, what)
                elif not advertised:
                    r.check("tx-read-only-eperm", False, f"{what}: accepted on an export served read-only")
                back = s.command(c.CMD_READ, 0, 8192)
                same = back.data == t.original[:8192]
                r.check(
                    "tx-read-only-unchanged",
                    same,
                    f"after {name} ({kind}): data {'same' if same else 'CHANGED'}",
                )


def write_read(t: Target, r: Recorder) -> None:
    for structured in (False, True):
        with t.opened(structured=structured) as s:
            data = _pattern(65536, 3 if structured else 5)
            reply = s.command(c.CMD_WRITE, PATTERN_OFFSET, len(data), payload=data)
            back = s.command(c.CMD_READ, PATTERN_OFFSET, len(data))
            ok = reply.error == 0 and back.data == data
            r.check(
                "tx-write",
                ok,
                f"write 64 KiB: {c.error_name(reply.error)}, read back {'same' if ok else 'different'}",
            )
            with t.opened() as other:
                seen = other.command(c.CMD_READ, PATTERN_OFFSET, len(data)).data == data
            if s.flags & c.FLAG_CAN_MULTI_CONN:
                r.check("tx-write", seen, "a second connection sees the write (CAN_MULTI_CONN)")


def flush(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        if not s.flags & c.FLAG_SEND_FLUSH:
            r.na("tx-flush", "NBD_FLAG_SEND_FLUSH not advertised")
            return
        reply = s.command(c.CMD_FLUSH)
        r.check("tx-flush", reply.error == 0, f"flush: {c.error_name(reply.error)}")


def trim(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        if not s.flags & c.FLAG_SEND_TRIM:
            r.na("tx-trim", "NBD_FLAG_SEND_TRIM not advertised")
            return
        reply = s.command(c.CMD_TRIM, 768 * 1024, 65536)
        r.check("tx-trim", reply.error == 0, f"trim 64 KiB: {c.error_name(reply.error)}")


def write_zeroes(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        if not s.flags & c.FLAG_SEND_WRITE_ZEROES:
            r.na("tx-write-zeroes", "NBD_FLAG_SEND_WRITE_ZEROES not advertised")
            return
        offset = 640 * 1024
        s.command(c.CMD_WRITE, offset, 8192, payload=_pattern(8192, 9))
        reply = s.command(c.CMD_WRITE_ZEROES, offset, 8192)
        back = s.command(c.CMD_READ, offset, 8192)
        ok = reply.error == 0 and back.data == bytes(8192)
        r.check("tx-write-zeroes", ok, f"write zeroes: {c.error_name(reply.error)}, reads back zero: {ok}")


def cache(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        before = s.command(c.CMD_READ, 0, 65536).data
        reply = s.command(c.CMD_CACHE, 0, 65536)
        after = s.command(c.CMD_READ, 0, 65536).data
        advertised = "advertised" if s.flags & c.FLAG_SEND_CACHE else "not advertised"
        r.check(
            "tx-cache", before == after, f"cache ({advertised}): {c.error_name(reply.error)}, data unchanged"
        )


def bounds(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        size = s.size
        reply = s.command(c.CMD_READ, size - 512, 1024)
        r.check("tx-read-bounds", reply.error == c.EINVAL, f"read past the end: {c.error_name(reply.error)}")
        if t.read_only:
            r.na("tx-write-bounds", "export is read-only")
            return
        reply = s.command(c.CMD_WRITE, size - 512, 1024, payload=bytes(1024))
        r.check(
            "tx-write-bounds", reply.error == c.ENOSPC, f"write past the end: {c.error_name(reply.error)}"
        )


def unknown_command(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        reply = s.command(0x42, 0, 0)
        r.check("tx-unknown-command", reply.error == c.EINVAL, f"command 0x42: {c.error_name(reply.error)}")


def unknown_flag(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        reply = s.command(c.CMD_FLUSH if s.flags & c.FLAG_SEND_FLUSH else c.CMD_CACHE, 0, 0, flags=1 << 14)
        r.check(
            "tx-unknown-flag", reply.error == c.EINVAL, f"command flag 1<<14: {c.error_name(reply.error)}"
        )


def block_status(t: Target, r: Recorder) -> None:
    with t.session() as s:
        s.handshake()
        if s.option(c.OPT_STRUCTURED_REPLY)[-1].reply != c.REP_ACK:
            r.na("tx-block-status", "no structured replies")
            return
        chosen = s.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data(t.export, [c.BASE_ALLOCATION]))
        ids = [wire.U32.unpack_from(x.data)[0] for x in chosen if x.reply == c.REP_META_CONTEXT]
        s.go(t.export)
        if not ids:
            r.na("tx-block-status", "base:allocation not offered")
            return
        length = s.size
        reply = s.command(c.CMD_BLOCK_STATUS, 0, length)
        statuses = [x for x in reply.chunks if x.kind == c.REPLY_TYPE_BLOCK_STATUS]
        problems = list(reply.problems)
        if reply.error:
            problems.append(c.error_name(reply.error))
        if len(statuses) != 1:
            problems.append(f"{len(statuses)} BLOCK_STATUS chunks for one context")
        extents: list[tuple[int, int]] = []
        for chunk in statuses:
            context_id, extents = parse_block_status(chunk)
            if context_id != ids[0]:
                problems.append(f"context id {context_id}, negotiated {ids[0]}")
            if not extents or any(n == 0 for n, _ in extents):
                problems.append("no descriptor, or one of length 0")
            if sum(n for n, _ in extents[:-1]) >= length:
                problems.append("descriptors before the last reach past the request")
        r.check("tx-block-status", not problems, "; ".join(problems) or f"{len(extents)} extents")
        pos = 0
        for n, f in extents:
            if f & c.STATE_ZERO and pos < s.size:
                span = min(n, s.size - pos, 1 << 20)
                zero = s.command(c.CMD_READ, pos, span).data == bytes(span)
                r.check("tx-block-status-zero", zero, f"[{pos}, +{span}) reported zero")
            pos += n
        beyond = s.command(c.CMD_BLOCK_STATUS, s.size - 512, 4096)
        r.check(
            "tx-block-status-bounds", beyond.error == c.EINVAL, f"past the end: {c.error_name(beyond.error)}"
        )


def block_status_no_context(t: Target, r: Recorder) -> None:
    with t.opened(structured=True) as s:
        if not s.structured:
            r.na("tx-block-status-no-context", "no structured replies")
            return
        reply = s.command(c.CMD_BLOCK_STATUS, 0, 4096)
        r.check(
            "tx-block-status-no-context", reply.error == c.EINVAL, f"no context: {c.error_name(reply.error)}"
        )


def disconnect(t: Target, r: Recorder) -> None:
    with t.opened() as s:
        s.send(s.client.request(c.CMD_DISC, 1, 0, 0))
        closed = s.closed_within(3.0)
        r.check("tx-disc", closed, "closed without a reply" if closed else "no close, or a reply, after DISC")


PROBES: dict[str, Probe] = {
    "handshake": handshake,
    "bad-client-flags": bad_client_flags,
    "unknown-option": unknown_option,
    "abort": abort,
    "list": list_exports,
    "starttls": starttls,
    "info-go": info_go,
    "info-unknown-export": info_unknown_export,
    "export-name": export_name,
    "structured-reply": structured_reply,
    "meta-context": meta_context,
    "read-simple": read_simple,
    "read-structured": read_structured,
    "read-only-writes": read_only_writes,
    "write-read": write_read,
    "flush": flush,
    "trim": trim,
    "write-zeroes": write_zeroes,
    "cache": cache,
    "bounds": bounds,
    "unknown-command": unknown_command,
    "unknown-flag": unknown_flag,
    "block-status": block_status,
    "block-status-no-context": block_status_no_context,
    "disconnect": disconnect,
}
