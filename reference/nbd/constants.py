"""NBD protocol numbers, as doc/proto.md of the NetworkBlockDevice project defines them."""

from __future__ import annotations

from typing import Final

NBDMAGIC: Final = 0x4E42444D41474943  # "NBDMAGIC", also INIT_PASSWD
IHAVEOPT: Final = 0x49484156454F5054  # "IHAVEOPT": newstyle magic and every option's magic
OPTION_REPLY_MAGIC: Final = 0x3E889045565A9
REQUEST_MAGIC: Final = 0x25609513
SIMPLE_REPLY_MAGIC: Final = 0x67446698
STRUCTURED_REPLY_MAGIC: Final = 0x668E33EF

# Handshake flags (server, 16 bits) and client flags (32 bits).
FLAG_FIXED_NEWSTYLE: Final = 1 << 0
FLAG_NO_ZEROES: Final = 1 << 1
FLAG_C_FIXED_NEWSTYLE: Final = 1 << 0
FLAG_C_NO_ZEROES: Final = 1 << 1

# Transmission flags (16 bits).
FLAG_HAS_FLAGS: Final = 1 << 0
FLAG_READ_ONLY: Final = 1 << 1
FLAG_SEND_FLUSH: Final = 1 << 2
FLAG_SEND_FUA: Final = 1 << 3
FLAG_ROTATIONAL: Final = 1 << 4
FLAG_SEND_TRIM: Final = 1 << 5
FLAG_SEND_WRITE_ZEROES: Final = 1 << 6
FLAG_SEND_DF: Final = 1 << 7
FLAG_CAN_MULTI_CONN: Final = 1 << 8
FLAG_SEND_RESIZE: Final = 1 << 9
FLAG_SEND_CACHE: Final = 1 << 10
FLAG_SEND_FAST_ZERO: Final = 1 << 11

# Options.
OPT_EXPORT_NAME: Final = 1
OPT_ABORT: Final = 2
OPT_LIST: Final = 3
OPT_PEEK_EXPORT: Final = 4
OPT_STARTTLS: Final = 5
OPT_INFO: Final = 6
OPT_GO: Final = 7
OPT_STRUCTURED_REPLY: Final = 8
OPT_LIST_META_CONTEXT: Final = 9
OPT_SET_META_CONTEXT: Final = 10

# Option reply types; errors have bit 31 set.
REP_ACK: Final = 1
REP_SERVER: Final = 2
REP_INFO: Final = 3
REP_META_CONTEXT: Final = 4
REP_ERR_BIT: Final = 1 << 31
REP_ERR_UNSUP: Final = REP_ERR_BIT + 1
REP_ERR_POLICY: Final = REP_ERR_BIT + 2
REP_ERR_INVALID: Final = REP_ERR_BIT + 3
REP_ERR_PLATFORM: Final = REP_ERR_BIT + 4
REP_ERR_TLS_REQD: Final = REP_ERR_BIT + 5
REP_ERR_UNKNOWN: Final = REP_ERR_BIT + 6
REP_ERR_SHUTDOWN: Final = REP_ERR_BIT + 7
REP_ERR_BLOCK_SIZE_REQD: Final = REP_ERR_BIT + 8
REP_ERR_TOO_BIG: Final = REP_ERR_BIT + 9

# NBD_REP_INFO information types.
INFO_EXPORT: Final = 0
INFO_NAME: Final = 1
INFO_DESCRIPTION: Final = 2
INFO_BLOCK_SIZE: Final = 3

# Commands and command flags.
CMD_READ: Final = 0
CMD_WRITE: Final = 1
CMD_DISC: Final = 2
CMD_FLUSH: Final = 3
CMD_TRIM: Final = 4
CMD_CACHE: Final = 5
CMD_WRITE_ZEROES: Final = 6
CMD_BLOCK_STATUS: Final = 7
CMD_FLAG_FUA: Final = 1 << 0
CMD_FLAG_NO_HOLE: Final = 1 << 1
CMD_FLAG_DF: Final = 1 << 2
CMD_FLAG_REQ_ONE: Final = 1 << 3
CMD_FLAG_FAST_ZERO: Final = 1 << 4

# Structured reply flags and chunk types; error chunks have bit 15 set.
REPLY_FLAG_DONE: Final = 1 << 0
REPLY_TYPE_NONE: Final = 0
REPLY_TYPE_OFFSET_DATA: Final = 1
REPLY_TYPE_OFFSET_HOLE: Final = 2
REPLY_TYPE_BLOCK_STATUS: Final = 5
REPLY_TYPE_ERROR_BIT: Final = 1 << 15
REPLY_TYPE_ERROR: Final = REPLY_TYPE_ERROR_BIT + 1
REPLY_TYPE_ERROR_OFFSET: Final = REPLY_TYPE_ERROR_BIT + 2

# base:allocation status flags.
STATE_HOLE: Final = 1 << 0
STATE_ZERO: Final = 1 << 1
BASE_ALLOCATION: Final = "base:allocation"

# Error values (the spec's own numbering, not the host's errno).
EPERM: Final = 1
EIO: Final = 5
ENOMEM: Final = 12
EINVAL: Final = 22
ENOSPC: Final = 28
EOVERFLOW: Final = 75
ENOTSUP: Final = 95
ESHUTDOWN: Final = 108

ERROR_NAMES: Final = {
    EPERM: "EPERM",
    EIO: "EIO",
    ENOMEM: "ENOMEM",
    EINVAL: "EINVAL",
    ENOSPC: "ENOSPC",
    EOVERFLOW: "EOVERFLOW",
    ENOTSUP: "ENOTSUP",
    ESHUTDOWN: "ESHUTDOWN",
}
REPLY_NAMES: Final = {
    REP_ACK: "ACK",
    REP_SERVER: "SERVER",
    REP_INFO: "INFO",
    REP_META_CONTEXT: "META_CONTEXT",
    REP_ERR_UNSUP: "ERR_UNSUP",
    REP_ERR_POLICY: "ERR_POLICY",
    REP_ERR_INVALID: "ERR_INVALID",
    REP_ERR_PLATFORM: "ERR_PLATFORM",
    REP_ERR_TLS_REQD: "ERR_TLS_REQD",
    REP_ERR_UNKNOWN: "ERR_UNKNOWN",
    REP_ERR_SHUTDOWN: "ERR_SHUTDOWN",
    REP_ERR_BLOCK_SIZE_REQD: "ERR_BLOCK_SIZE_REQD",
    REP_ERR_TOO_BIG: "ERR_TOO_BIG",
}


def error_name(value: int) -> str:
    return ERROR_NAMES.get(value, f"error {value}") if value else "success"


def reply_name(value: int) -> str:
    return REPLY_NAMES.get(value, f"reply {value:#x}")
