"""The rules of doc/proto.md that the reference server enforces and the probe checks, as data.

Each clause has a short id, the spec section it comes from, its strength (the RFC 2119 word the
spec uses) and the rule in our own words. A probe result names a clause; its strength decides
what a broken rule means: MUST -> fail, SHOULD -> warn, MAY -> informational.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Strength(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


@dataclass(frozen=True)
class Clause:
    id: str
    section: str
    strength: Strength
    text: str


M, S, Y = Strength.MUST, Strength.SHOULD, Strength.MAY

_TABLE = [
    # Handshake.
    Clause("hs-magic", "Newstyle negotiation", M, "The server opens with NBDMAGIC then IHAVEOPT."),
    Clause(
        "hs-fixed-newstyle",
        "Handshake flags",
        M,
        "A server supporting fixed newstyle sets NBD_FLAG_FIXED_NEWSTYLE.",
    ),
    Clause(
        "hs-no-other-flags",
        "Handshake flags",
        M,
        "The server sets no handshake flag other than FIXED_NEWSTYLE and NO_ZEROES.",
    ),
    Clause(
        "hs-unknown-client-flags",
        "Client flags",
        M,
        "A client flag the server does not know (or did not advertise) makes it drop the connection.",
    ),
    Clause(
        "opt-reply-format",
        "Fixed newstyle negotiation",
        M,
        "Every option reply carries the reply magic and echoes the option it answers.",
    ),
    Clause(
        "opt-unknown-unsup",
        "Baseline",
        M,
        "An option the server does not implement is answered with NBD_REP_ERR_UNSUP.",
    ),
    Clause(
        "opt-unknown-keep-parsing",
        "Baseline",
        M,
        "After an unknown option the server still parses and answers the next option.",
    ),
    Clause("opt-abort-ack", "NBD_OPT_ABORT", M, "NBD_OPT_ABORT is answered with NBD_REP_ACK."),
    Clause(
        "opt-list",
        "NBD_OPT_LIST",
        M,
        "NBD_OPT_LIST gets zero or more NBD_REP_SERVER replies then NBD_REP_ACK (or an error).",
    ),
    Clause(
        "opt-list-server-format",
        "Option reply types",
        M,
        "An NBD_REP_SERVER's name length fits in the reply (at most its length - 4).",
    ),
    Clause(
        "opt-list-data-invalid",
        "NBD_OPT_LIST",
        S,
        "NBD_OPT_LIST with option data is rejected with NBD_REP_ERR_INVALID.",
    ),
    Clause(
        "opt-info-export",
        "NBD_OPT_INFO and NBD_OPT_GO",
        M,
        "A successful NBD_OPT_INFO or NBD_OPT_GO sends an NBD_INFO_EXPORT (length 12) before ACK.",
    ),
    Clause(
        "opt-info-unknown-export",
        "NBD_OPT_INFO and NBD_OPT_GO",
        S,
        "An export that does not exist is refused with an error (NBD_REP_ERR_UNKNOWN), no INFO.",
    ),
    Clause(
        "opt-info-go-consistent",
        "NBD_OPT_INFO and NBD_OPT_GO",
        M,
        "An NBD_OPT_GO right after a successful identical NBD_OPT_INFO reports the same size and flags.",
    ),
    Clause(
        "opt-go-transmission",
        "NBD_OPT_INFO and NBD_OPT_GO",
        M,
        "After NBD_OPT_GO's ACK the transmission phase starts at once, without padding.",
    ),
    Clause(
        "opt-export-name-reply",
        "Newstyle negotiation",
        M,
        "NBD_OPT_EXPORT_NAME is answered with size, flags and 124 zero bytes.",
    ),
    Clause(
        "opt-export-name-no-zeroes",
        "Client flags",
        M,
        "With NBD_FLAG_C_NO_ZEROES the 124 zero bytes after NBD_OPT_EXPORT_NAME are left out.",
    ),
    Clause(
        "opt-starttls-notls",
        "NOTLS mode",
        M,
        "A server without TLS answers NBD_OPT_STARTTLS with ERR_POLICY, ERR_UNSUP or another error.",
    ),
    Clause(
        "opt-no-tls-reqd",
        "NOTLS mode",
        M,
        "A server without TLS never answers an option with NBD_REP_ERR_TLS_REQD.",
    ),
    Clause(
        "opt-structured-reply",
        "NBD_OPT_STRUCTURED_REPLY",
        Y,
        "NBD_OPT_STRUCTURED_REPLY is answered with ACK (structured replies on) or ERR_UNSUP.",
    ),
    Clause(
        "opt-structured-reply-data",
        "NBD_OPT_STRUCTURED_REPLY",
        S,
        "NBD_OPT_STRUCTURED_REPLY with option data is rejected with NBD_REP_ERR_INVALID.",
    ),
    Clause(
        "opt-set-meta-needs-sr",
        "NBD_OPT_SET_META_CONTEXT",
        S,
        "NBD_OPT_SET_META_CONTEXT before structured replies is refused with NBD_REP_ERR_INVALID.",
    ),
    Clause(
        "opt-list-meta",
        "NBD_OPT_LIST_META_CONTEXT",
        M,
        "NBD_OPT_LIST_META_CONTEXT gets META_CONTEXT replies then ACK; 'base:' lists base:allocation.",
    ),
    Clause(
        "opt-meta-unknown-namespace",
        "NBD_OPT_LIST_META_CONTEXT",
        M,
        "A query in an unknown namespace is ignored: a lone ACK, no error.",
    ),
    Clause(
        "opt-meta-malformed",
        "NBD_OPT_LIST_META_CONTEXT",
        M,
        "A query length reaching past the option data is refused with NBD_REP_ERR_INVALID.",
    ),
    Clause(
        "opt-set-meta-base-allocation",
        "NBD_OPT_SET_META_CONTEXT",
        M,
        "Selecting base:allocation gets one META_CONTEXT naming it, then ACK.",
    ),
    Clause(
        "opt-set-meta-zero-queries",
        "NBD_OPT_SET_META_CONTEXT",
        M,
        "NBD_OPT_SET_META_CONTEXT with zero queries selects nothing: a lone ACK.",
    ),
    Clause(
        "opt-meta-unknown-leaf",
        "The base: metadata namespace",
        M,
        "An unknown leaf name under base: is ignored, not reported as an error.",
    ),
    # Transmission.
    Clause("tx-has-flags", "Transmission flags", M, "NBD_FLAG_HAS_FLAGS is always set."),
    Clause(
        "tx-read-only-flag",
        "Transmission flags",
        Y,
        "The server may advertise a read-only export with NBD_FLAG_READ_ONLY (qconform expects "
        "it exactly when the export is served read-only).",
    ),
    Clause(
        "tx-read-only-refuses",
        "Transmission flags",
        M,
        "With NBD_FLAG_READ_ONLY set, writes (write, trim, write zeroes) are errored.",
    ),
    Clause(
        "tx-read-only-unchanged",
        "Transmission flags",
        M,
        "A write the server errored on a read-only export leaves the data unchanged.",
    ),
    Clause(
        "tx-read-only-eperm",
        "Error values",
        S,
        "Write, trim and write zeroes on a read-only export fail with NBD_EPERM.",
    ),
    Clause(
        "tx-df-flag",
        "Transmission flags",
        M,
        "NBD_FLAG_SEND_DF is clear when structured replies were not negotiated.",
    ),
    Clause(
        "tx-fast-zero-flag",
        "Transmission flags",
        M,
        "NBD_FLAG_SEND_FAST_ZERO is clear when NBD_FLAG_SEND_WRITE_ZEROES is.",
    ),
    Clause("tx-handle", "Transmission", M, "Every reply carries the handle of the request it answers."),
    Clause(
        "tx-simple-only",
        "Transmission",
        M,
        "Without NBD_OPT_STRUCTURED_REPLY the server sends only simple replies.",
    ),
    Clause("tx-read", "Baseline", M, "NBD_CMD_READ returns the requested bytes of the export."),
    Clause(
        "tx-read-structured",
        "NBD_CMD_READ",
        M,
        "With structured replies a read is answered by well-formed chunks covering the range, "
        "the last one flagged DONE.",
    ),
    Clause("tx-write", "Baseline", M, "NBD_CMD_WRITE stores the data: it reads back as written."),
    Clause("tx-flush", "NBD_CMD_FLUSH", M, "An advertised NBD_CMD_FLUSH is answered."),
    Clause("tx-trim", "NBD_CMD_TRIM", Y, "An advertised NBD_CMD_TRIM is accepted."),
    Clause(
        "tx-write-zeroes",
        "NBD_CMD_WRITE_ZEROES",
        M,
        "After a successful NBD_CMD_WRITE_ZEROES the range reads back as zeroes.",
    ),
    Clause(
        "tx-cache", "NBD_CMD_CACHE", M, "NBD_CMD_CACHE is answered and changes nothing the client can read."
    ),
    Clause("tx-read-bounds", "Error values", S, "A read past the end of the export fails with NBD_EINVAL."),
    Clause(
        "tx-write-bounds",
        "Error values",
        S,
        "A write past the end of a writable export fails with NBD_ENOSPC.",
    ),
    Clause("tx-unknown-command", "Error values", S, "An unknown command fails with NBD_EINVAL."),
    Clause("tx-unknown-flag", "Error values", S, "An unknown command flag fails with NBD_EINVAL."),
    Clause(
        "tx-block-status",
        "NBD_CMD_BLOCK_STATUS",
        M,
        "BLOCK_STATUS gets one BLOCK_STATUS chunk per selected context with nonzero-length "
        "descriptors, the first N-1 summing below the requested length.",
    ),
    Clause(
        "tx-block-status-zero",
        "base:allocation metadata context",
        M,
        "A range reported NBD_STATE_ZERO reads back as zeroes.",
    ),
    Clause(
        "tx-block-status-no-context",
        "Metadata querying",
        S,
        "NBD_CMD_BLOCK_STATUS without a selected context fails with NBD_EINVAL.",
    ),
    Clause(
        "tx-block-status-bounds",
        "NBD_CMD_BLOCK_STATUS",
        S,
        "NBD_CMD_BLOCK_STATUS past the end of the export fails with NBD_EINVAL.",
    ),
    Clause(
        "tx-fua-accepted",
        "Command flags",
        M,
        "With NBD_FLAG_SEND_FUA advertised, a write with NBD_CMD_FLAG_FUA is accepted"
        " (the flag may be ignored).",
    ),
    Clause(
        "tx-fua-unadvertised",
        "Error values",
        S,
        "NBD_CMD_FLAG_FUA without NBD_FLAG_SEND_FUA is a flag not valid for the request: NBD_EINVAL.",
    ),
    Clause(
        "tx-req-one",
        "Structured reply types",
        M,
        "With NBD_CMD_FLAG_REQ_ONE no NBD_REPLY_TYPE_BLOCK_STATUS chunk has more than one descriptor.",
    ),
    Clause(
        "tx-bad-magic",
        "Terminating the transmission phase",
        Y,
        "A request with a wrong magic breaks a MUST: the server may hard-disconnect"
        " (qconform expects it: no reply, the connection closed).",
    ),
    Clause(
        "tx-block-size-unaligned",
        "Block size constraints",
        Y,
        "A request breaking the advertised minimum block size is refused with NBD_EINVAL or served correctly,"
        " and the connection goes on.",
    ),
    Clause(
        "tx-in-flight",
        "Transmission",
        M,
        "Requests sent without waiting are each answered once, under their own handle, in any order.",
    ),
    Clause(
        "tx-read-structured-only",
        "Structured reply chunk message",
        M,
        "With structured replies negotiated, a read is never answered by a simple reply, not even an error.",
    ),
    Clause(
        "tx-chunk-done-last",
        "Structured reply chunk message",
        M,
        "The chunk with NBD_REPLY_FLAG_DONE is the last one of its reply: nothing follows under that handle.",
    ),
    Clause(
        "tx-chunk-flags",
        "Structured reply flags",
        M,
        "A chunk sets no reply flag but NBD_REPLY_FLAG_DONE (no other flag was negotiated).",
    ),
    Clause(
        "tx-chunk-format",
        "Structured reply types",
        M,
        "Chunk payloads fit their type: NONE empty and final, OFFSET_HOLE 12 bytes, errors at least 6 bytes"
        " with a nonzero error and a message that fits.",
    ),
    Clause("tx-disc", "NBD_CMD_DISC", M, "After NBD_CMD_DISC the server closes the connection, no reply."),
]

CLAUSES: dict[str, Clause] = {c.id: c for c in _TABLE}
assert len(CLAUSES) == len(_TABLE), "duplicate clause id"


def clause(clause_id: str) -> Clause:
    return CLAUSES[clause_id]
