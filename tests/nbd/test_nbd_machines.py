"""The sans-IO server and client machines talking to each other, no sockets."""

from __future__ import annotations

from reference.nbd import constants as c
from reference.nbd import wire
from reference.nbd.clauses import CLAUSES, Strength
from reference.nbd.client import Chunk, ExportNameReply, Greeting, NbdClient, OptionReply, SimpleReply
from reference.nbd.server import Close, Export, NbdServerConnection, Output, Phase, Send
from reference.nbd.storage import BufferStorage

SIZE = 65536


def _server(read_only: bool = False) -> NbdServerConnection:
    data = bytearray(SIZE)
    data[:4096] = b"\x11" * 4096
    export = Export("disk", BufferStorage(data, sparse=True), read_only)
    return NbdServerConnection({"disk": export}, default_export="disk")


def _bytes(outputs: list[Output]) -> bytes:
    return b"".join(b"".join(o.data) for o in outputs if isinstance(o, Send))


class Pair:
    def __init__(self, read_only: bool = False, client_flags: int = c.FLAG_C_FIXED_NEWSTYLE) -> None:
        self.server = _server(read_only)
        self.client = NbdClient()
        (greeting,) = self.client.receive(_bytes(self.server.start()))
        assert isinstance(greeting, Greeting)
        assert greeting.handshake_flags == c.FLAG_FIXED_NEWSTYLE | c.FLAG_NO_ZEROES
        self.outputs: list[Output] = self.server.receive(self.client.client_flags(client_flags))

    def send(self, data: bytes) -> list[object]:
        self.outputs = self.server.receive(data)
        return list(self.client.receive(_bytes(self.outputs)))

    def option(self, opt: int, data: bytes = b"") -> list[OptionReply]:
        events = self.send(self.client.option(opt, data))
        assert all(isinstance(e, OptionReply) for e in events)
        return [e for e in events if isinstance(e, OptionReply)]

    def go(self, structured: bool = False, meta: bool = False) -> None:
        if structured:
            assert self.option(c.OPT_STRUCTURED_REPLY)[-1].reply == c.REP_ACK
        if meta:
            self.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data("disk", [c.BASE_ALLOCATION]))
        assert self.option(c.OPT_GO, wire.info_request_data("disk", []))[-1].reply == c.REP_ACK
        assert self.server.phase is Phase.TRANSMISSION

    def command(
        self, cmd: int, offset: int, length: int, flags: int = 0, payload: bytes = b""
    ) -> list[object]:
        return self.send(self.client.request(cmd, 7, offset, length, flags, payload))


def _kinds(replies: list[OptionReply]) -> list[int]:
    return [r.reply for r in replies]


def test_clause_table_is_complete_data() -> None:
    assert len(CLAUSES) >= 40
    for clause in CLAUSES.values():
        assert clause.section and clause.text and isinstance(clause.strength, Strength)


def test_unknown_option_is_unsup_and_parsing_goes_on() -> None:
    p2 = Pair()
    assert _kinds(p2.option(0x4242, b"abc")) == [c.REP_ERR_UNSUP]
    assert _kinds(p2.option(c.OPT_LIST)) == [c.REP_SERVER, c.REP_ACK]


def test_options_answers() -> None:
    p = Pair()
    assert _kinds(p.option(c.OPT_LIST, b"x")) == [c.REP_ERR_INVALID]
    assert _kinds(p.option(c.OPT_STARTTLS)) == [c.REP_ERR_POLICY]
    assert _kinds(p.option(c.OPT_INFO, wire.info_request_data("nope", []))) == [c.REP_ERR_UNKNOWN]
    info = p.option(c.OPT_INFO, wire.info_request_data("", [c.INFO_NAME, c.INFO_BLOCK_SIZE]))
    assert _kinds(info) == [c.REP_INFO] * 3 + [c.REP_ACK]
    kind, size, flags = wire.INFO_EXPORT.unpack(info[0].data)
    assert (kind, size) == (c.INFO_EXPORT, SIZE) and flags & c.FLAG_HAS_FLAGS and not flags & c.FLAG_READ_ONLY
    meta = wire.meta_context_data("disk", [c.BASE_ALLOCATION])
    assert _kinds(p.option(c.OPT_SET_META_CONTEXT, meta)) == [c.REP_ERR_INVALID]  # before SR
    assert _kinds(p.option(c.OPT_STRUCTURED_REPLY, b"x")) == [c.REP_ERR_INVALID]
    assert _kinds(p.option(c.OPT_STRUCTURED_REPLY)) == [c.REP_ACK]
    assert _kinds(p.option(c.OPT_LIST_META_CONTEXT, wire.meta_context_data("disk", ["base:"]))) == [
        c.REP_META_CONTEXT,
        c.REP_ACK,
    ]
    assert _kinds(p.option(c.OPT_LIST_META_CONTEXT, wire.meta_context_data("disk", ["x-y:z"]))) == [c.REP_ACK]
    assert _kinds(p.option(c.OPT_SET_META_CONTEXT, wire.meta_context_data("disk", ["base:"]))) == [c.REP_ACK]
    bad = wire.string32("disk") + wire.U32.pack(1) + wire.U32.pack(99) + b"base:"
    assert _kinds(p.option(c.OPT_LIST_META_CONTEXT, bad)) == [c.REP_ERR_INVALID]
    assert _kinds(p.option(c.OPT_SET_META_CONTEXT, meta)) == [c.REP_META_CONTEXT, c.REP_ACK]
    assert _kinds(p.option(c.OPT_ABORT)) == [c.REP_ACK]
    assert isinstance(p.outputs[-1], Close) and p.server.closed


def test_unknown_client_flags_close() -> None:
    p = Pair(client_flags=1 << 9)
    assert p.outputs == [Close("unknown client flags 0x200", "hs-unknown-client-flags")]


def test_export_name_without_and_with_zeroes() -> None:
    for flags, pad in ((c.FLAG_C_FIXED_NEWSTYLE, 124), (c.FLAG_C_FIXED_NEWSTYLE | c.FLAG_C_NO_ZEROES, 0)):
        p = Pair(client_flags=flags)
        (reply,) = p.send(p.client.option(c.OPT_EXPORT_NAME, b"disk"))
        assert isinstance(reply, ExportNameReply) and reply.size == SIZE and len(reply.padding) == pad
        (read,) = p.command(c.CMD_READ, 0, 8)
        assert read == SimpleReply(7, 0, b"\x11" * 8)
    p = Pair()
    p.server.receive(p.client.option(c.OPT_EXPORT_NAME, b"nope"))
    assert p.server.closed


def test_simple_transmission() -> None:
    p = Pair()
    p.go()
    assert p.command(c.CMD_WRITE, 100, 4, payload=b"abcd") == [SimpleReply(7, 0, b"")]
    assert p.command(c.CMD_READ, 98, 8) == [SimpleReply(7, 0, b"\x11\x11abcd\x11\x11")]
    assert p.command(c.CMD_READ, SIZE - 4, 8) == [SimpleReply(7, c.EINVAL, b"")]
    assert p.command(c.CMD_WRITE, SIZE - 2, 4, payload=b"wxyz") == [SimpleReply(7, c.ENOSPC, b"")]
    assert p.command(c.CMD_WRITE_ZEROES, 96, 8) == [SimpleReply(7, 0, b"")]
    assert p.command(c.CMD_READ, 96, 8) == [SimpleReply(7, 0, bytes(8))]
    assert p.command(c.CMD_FLUSH, 0, 0) == [SimpleReply(7, 0, b"")]
    assert p.command(c.CMD_CACHE, 0, 4096) == [SimpleReply(7, 0, b"")]
    assert p.command(c.CMD_TRIM, 0, 4096) == [SimpleReply(7, 0, b"")]
    assert p.command(0x42, 0, 0) == [SimpleReply(7, c.EINVAL, b"")]
    assert p.command(c.CMD_READ, 0, 8, flags=1 << 14) == [SimpleReply(7, c.EINVAL, b"")]
    assert p.command(c.CMD_READ, 0, 8, flags=c.CMD_FLAG_DF) == [SimpleReply(7, c.EINVAL, b"")]  # no SR
    assert p.command(c.CMD_DISC, 0, 0) == []
    assert isinstance(p.outputs[-1], Close) and p.server.closed


def test_read_only_refuses_writes_with_eperm_and_keeps_data() -> None:
    p = Pair(read_only=True)
    p.go()
    for cmd, payload in ((c.CMD_WRITE, b"\0" * 16), (c.CMD_TRIM, b""), (c.CMD_WRITE_ZEROES, b"")):
        assert p.command(cmd, 0, 16, payload=payload) == [SimpleReply(7, c.EPERM, b"")]
    assert p.command(c.CMD_READ, 0, 16) == [SimpleReply(7, 0, b"\x11" * 16)]


def test_structured_replies_and_block_status() -> None:
    p = Pair()
    p.go(structured=True, meta=True)
    (chunk,) = p.command(c.CMD_READ, 4090, 10)
    assert isinstance(chunk, Chunk) and chunk.done and chunk.kind == c.REPLY_TYPE_OFFSET_DATA
    assert chunk.payload == wire.U64.pack(4090) + b"\x11" * 6 + bytes(4)
    (err,) = p.command(c.CMD_READ, SIZE, 1)
    assert isinstance(err, Chunk) and err.kind == c.REPLY_TYPE_ERROR
    assert wire.ERROR_PAYLOAD.unpack_from(err.payload)[0] == c.EINVAL
    (status,) = p.command(c.CMD_BLOCK_STATUS, 0, SIZE)
    assert isinstance(status, Chunk) and status.kind == c.REPLY_TYPE_BLOCK_STATUS
    assert status.payload == wire.U32.pack(1) + wire.EXTENT.pack(4096, 0) + wire.EXTENT.pack(
        SIZE - 4096, c.STATE_HOLE | c.STATE_ZERO
    )
    (one,) = p.command(c.CMD_BLOCK_STATUS, 0, 100, flags=c.CMD_FLAG_REQ_ONE)
    assert isinstance(one, Chunk) and one.payload == wire.U32.pack(1) + wire.EXTENT.pack(100, 0)


def test_block_status_needs_a_context() -> None:
    p = Pair()
    p.go(structured=True)
    (err,) = p.command(c.CMD_BLOCK_STATUS, 0, 10)
    assert isinstance(err, Chunk) and wire.ERROR_PAYLOAD.unpack_from(err.payload)[0] == c.EINVAL


def test_byte_at_a_time_input_parses_the_same() -> None:
    data = wire.option(0x99, b"zz") + wire.option(c.OPT_STRUCTURED_REPLY) + wire.option(c.OPT_GO, b"\0" * 6)
    whole, split = Pair(), Pair()
    expected = _bytes(whole.server.receive(data))
    got = b"".join(_bytes(split.server.receive(data[i : i + 1])) for i in range(len(data)))
    assert got == expected and split.server.phase is Phase.TRANSMISSION
