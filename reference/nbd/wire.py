"""Byte layouts shared by the server and the client machines (network byte order throughout)."""

from __future__ import annotations

import struct
from typing import Final

from reference.nbd import constants as c

GREETING: Final = struct.Struct(">QQH")  # NBDMAGIC, IHAVEOPT, handshake flags
CLIENT_FLAGS: Final = struct.Struct(">I")
OPTION: Final = struct.Struct(">QII")  # IHAVEOPT, option, length
OPTION_REPLY: Final = struct.Struct(">QIII")  # magic, option, reply type, length
EXPORT_NAME_REPLY: Final = struct.Struct(">QH")  # size, transmission flags
REQUEST: Final = struct.Struct(">IHHQQI")  # magic, flags, type, handle, offset, length
SIMPLE_REPLY: Final = struct.Struct(">IIQ")  # magic, error, handle
CHUNK: Final = struct.Struct(">IHHQI")  # magic, flags, type, handle, length
U16: Final = struct.Struct(">H")
U32: Final = struct.Struct(">I")
U64: Final = struct.Struct(">Q")
INFO_EXPORT: Final = struct.Struct(">HQH")  # NBD_INFO_EXPORT, size, flags
INFO_BLOCK_SIZE: Final = struct.Struct(">HIII")
ERROR_PAYLOAD: Final = struct.Struct(">IH")  # error, message length
EXTENT: Final = struct.Struct(">II")  # length, status flags
ZEROES_124: Final = bytes(124)


def greeting(handshake_flags: int) -> bytes:
    return GREETING.pack(c.NBDMAGIC, c.IHAVEOPT, handshake_flags)


def option(opt: int, data: bytes = b"") -> bytes:
    return OPTION.pack(c.IHAVEOPT, opt, len(data)) + data


def option_reply(opt: int, reply: int, data: bytes = b"") -> bytes:
    return OPTION_REPLY.pack(c.OPTION_REPLY_MAGIC, opt, reply, len(data)) + data


def request(cmd: int, handle: int, offset: int, length: int, flags: int = 0, payload: bytes = b"") -> bytes:
    return REQUEST.pack(c.REQUEST_MAGIC, flags, cmd, handle, offset, length) + payload


def simple_reply(handle: int, error: int) -> bytes:
    return SIMPLE_REPLY.pack(c.SIMPLE_REPLY_MAGIC, error, handle)


def chunk_header(handle: int, flags: int, kind: int, length: int) -> bytes:
    return CHUNK.pack(c.STRUCTURED_REPLY_MAGIC, flags, kind, handle, length)


def error_chunk(handle: int, error: int, message: str) -> bytes:
    text = message.encode()[:4096]
    payload = ERROR_PAYLOAD.pack(error, len(text)) + text
    return chunk_header(handle, c.REPLY_FLAG_DONE, c.REPLY_TYPE_ERROR, len(payload)) + payload


def string32(text: str | bytes) -> bytes:
    """A 32-bit length then the string, as export names and queries are sent in meta-context options."""
    raw = text.encode() if isinstance(text, str) else text
    return U32.pack(len(raw)) + raw


def meta_context_data(export: str, queries: list[str]) -> bytes:
    return string32(export) + U32.pack(len(queries)) + b"".join(string32(q) for q in queries)


def info_request_data(export: str, infos: list[int]) -> bytes:
    return string32(export) + U16.pack(len(infos)) + b"".join(U16.pack(i) for i in infos)
