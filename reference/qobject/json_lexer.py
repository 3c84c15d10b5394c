"""QEMU's JSON lexer (qobject/json-lexer.c in 7.2) as a table-driven state machine.

The machine is data: TABLE[state][byte] holds the next state or token kind,
with LOOKAHEAD set when the byte is not consumed (it ends the previous token
and is looked at again from START). Every (state, byte) pair not listed is
ERROR, which consumes the byte and reports everything since the token began
as stray text; the lexer then skips input in RECOVERY up to a byte where a
JSON message could plausibly start.

Interpolation ('%d' and friends) is off, as on the QMP monitor, so '%' is
just a stray byte.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# The longest token QEMU lexes before cutting it off (a security limit).
MAX_TOKEN_SIZE = 64 << 20

# Lexer states. ERROR doubles as the default table entry, as in QEMU.
ERROR = 0
RECOVERY = 1
DQ_STRING_ESCAPE = 2
DQ_STRING = 3
SQ_STRING_ESCAPE = 4
SQ_STRING = 5
ZERO = 6
EXP_DIGITS = 7
EXP_SIGN = 8
EXP_E = 9
MANTISSA = 10
MANTISSA_DIGITS = 11
DIGITS = 12
SIGN = 13
KEYWORD = 14
START = 15
STATE_NAMES = (
    "ERROR", "RECOVERY", "DQ_STRING_ESCAPE", "DQ_STRING", "SQ_STRING_ESCAPE", "SQ_STRING", "ZERO",
    "EXP_DIGITS", "EXP_SIGN", "EXP_E", "MANTISSA", "MANTISSA_DIGITS", "DIGITS", "SIGN", "KEYWORD", "START",
)  # fmt: skip

# Token kinds; all at or above TOKEN_BASE so one byte can hold state or token.
TOKEN_BASE = 64
LCURLY = 64
RCURLY = 65
LSQUARE = 66
RSQUARE = 67
COLON = 68
COMMA = 69
INTEGER = 70
FLOAT = 71
KEYWORD_TOKEN = 72
STRING = 73
END_OF_INPUT = 74
# A token cut off at MAX_TOKEN_SIZE; QEMU hands it on tagged with the lexer
# state, which the streamer treats like any non-bracket token.
OVERSIZED = 75
TOKEN_NAMES = {
    LCURLY: "LCURLY", RCURLY: "RCURLY", LSQUARE: "LSQUARE", RSQUARE: "RSQUARE", COLON: "COLON",
    COMMA: "COMMA", INTEGER: "INTEGER", FLOAT: "FLOAT", KEYWORD_TOKEN: "KEYWORD", STRING: "STRING",
    END_OF_INPUT: "END_OF_INPUT", OVERSIZED: "OVERSIZED", ERROR: "ERROR",
}  # fmt: skip

LOOKAHEAD = 0x80

# Character classes the table is written in.
ALL = range(0x100)
CONTROL = range(0x20)
# Bytes a string may hold raw; 0xFE/0xFF never occur in UTF-8.
TEXT = range(0x20, 0xFE)
DIGIT = b"0123456789"
NONZERO = b"123456789"
LOWER = b"abcdefghijklmnopqrstuvwxyz"
WHITESPACE = b" \t\r\n"
# Where recovery stops: a message can (re)start at a structural character.
STRUCTURAL = b"[]{}:,"
IMPOSSIBLE = b"\xfe\xff"

Rule = tuple[bytes | range, int]

# state -> rules applied in order over an all-ERROR row; later rules win.
SPEC: dict[int, list[Rule]] = {
    # Skip to a structural character, a control character other than tab
    # (line ends), or an impossible byte; clients use those to resync.
    RECOVERY: [
        (ALL, START | LOOKAHEAD),
        (TEXT, RECOVERY),
        (b"\t", RECOVERY),
        (STRUCTURAL, START | LOOKAHEAD),
    ],
    # Escapes accept any text byte; the parser rejects bad ones.
    DQ_STRING_ESCAPE: [(TEXT, DQ_STRING)],
    DQ_STRING: [(TEXT, DQ_STRING), (b"\\", DQ_STRING_ESCAPE), (b'"', STRING)],
    SQ_STRING_ESCAPE: [(TEXT, SQ_STRING)],
    SQ_STRING: [(TEXT, SQ_STRING), (b"\\", SQ_STRING_ESCAPE), (b"'", STRING)],
    # A leading zero may only be followed by a fraction.
    ZERO: [(ALL, INTEGER | LOOKAHEAD), (DIGIT, ERROR), (b".", MANTISSA)],
    EXP_DIGITS: [(ALL, FLOAT | LOOKAHEAD), (DIGIT, EXP_DIGITS)],
    EXP_SIGN: [(DIGIT, EXP_DIGITS)],
    EXP_E: [(b"+-", EXP_SIGN), (DIGIT, EXP_DIGITS)],
    MANTISSA: [(DIGIT, MANTISSA_DIGITS)],
    MANTISSA_DIGITS: [(ALL, FLOAT | LOOKAHEAD), (DIGIT, MANTISSA_DIGITS), (b"eE", EXP_E)],
    DIGITS: [(ALL, INTEGER | LOOKAHEAD), (DIGIT, DIGITS), (b"eE", EXP_E), (b".", MANTISSA)],
    SIGN: [(b"0", ZERO), (NONZERO, DIGITS)],
    # Any run of lowercase letters; the parser knows the three keywords.
    KEYWORD: [(ALL, KEYWORD_TOKEN | LOOKAHEAD), (LOWER, KEYWORD)],
    START: [
        (b'"', DQ_STRING),
        (b"'", SQ_STRING),
        (b"0", ZERO),
        (NONZERO, DIGITS),
        (b"-", SIGN),
        (b"{", LCURLY),
        (b"}", RCURLY),
        (b"[", LSQUARE),
        (b"]", RSQUARE),
        (b",", COMMA),
        (b":", COLON),
        (LOWER, KEYWORD),
        (WHITESPACE, START),
    ],
}


def build_table(spec: dict[int, list[Rule]]) -> tuple[bytes, ...]:
    rows = [bytes(256)] * (START + 1)
    for state, rules in spec.items():
        row = bytearray(256)
        for chars, target in rules:
            for byte in chars:
                row[byte] = target
        rows[state] = bytes(row)
    return tuple(rows)


TABLE = build_table(SPEC)


def _self_loop_runs(table: tuple[bytes, ...]) -> dict[int, re.Pattern[bytes]]:
    """For each state, a pattern matching a run of bytes that keep it there.

    Such runs (string text, digits, letters, skipped garbage, whitespace) are
    taken in one step instead of byte by byte.
    """
    runs: dict[int, re.Pattern[bytes]] = {}
    for state, row in enumerate(table):
        loop = [byte for byte in range(256) if row[byte] == state]
        if len(loop) > 1:
            chars = b"".join(re.escape(bytes([byte])) for byte in loop)
            runs[state] = re.compile(b"[" + chars + b"]+")
    return runs


RUNS = _self_loop_runs(TABLE)
# States whose consumed bytes are thrown away rather than kept in the token.
DISCARDING = frozenset({START, RECOVERY})


class Token(NamedTuple):
    kind: int
    text: bytes


# A shortcut from START for the tokens requests are mostly made of: the same
# tokens the table yields, matched in C. Numbers and keywords count only when
# a byte that certainly ends them follows; anything else takes the table path.
_FAST = re.compile(
    rb"[ \t\r\n]*(?:([{}\[\],:])"
    rb'|("[\x20\x21\x23-\x5b\x5d-\xfd]*")'
    rb"|(-?(?:0|[1-9][0-9]*)|[a-z]+)(?=[ \t\r\n,:\]}]))"
)
_PUNCTUATION = {
    ord("{"): LCURLY,
    ord("}"): RCURLY,
    ord("["): LSQUARE,
    ord("]"): RSQUARE,
    ord(","): COMMA,
    ord(":"): COLON,
}


class JsonLexer:
    """Bytes in, tokens out; keeps partial tokens across feed() calls."""

    __slots__ = ("_state", "_token")

    def __init__(self) -> None:
        self._state = START
        self._token = bytearray()

    @property
    def state(self) -> int:
        return self._state

    def feed(self, data: bytes) -> list[Token]:
        out: list[Token] = []
        table = TABLE
        runs = RUNS
        token = self._token
        state = self._state
        i = 0
        n = len(data)
        fast = _FAST.match
        while i < n:
            if state == START and not token:
                match = fast(data, i)
                while match is not None:
                    punct, string, word = match.groups()
                    if punct is not None:
                        out.append(Token(_PUNCTUATION[punct[0]], punct))
                    elif string is not None:
                        if len(string) > MAX_TOKEN_SIZE:
                            break  # the table path cuts it where QEMU does
                        out.append(Token(STRING, string))
                    else:
                        out.append(Token(KEYWORD_TOKEN if word[0] >= 0x61 else INTEGER, word))
                    i = match.end()
                    match = fast(data, i)
                if i == n:
                    break
            run = runs.get(state)
            if run is not None:
                match = run.match(data, i)
                if match is not None:
                    end = match.end()
                    if state in DISCARDING:
                        i = end
                        continue
                    room = MAX_TOKEN_SIZE + 1 - len(token)
                    if end - i >= room:
                        # The byte that makes the token too long ends it.
                        token += data[i : i + room]
                        i += room
                        out.append(Token(OVERSIZED, bytes(token)))
                        token.clear()
                        state = START
                        continue
                    token += data[i:end]
                    i = end
                    if i == n:
                        break
            byte = data[i]
            nxt = table[state][byte]
            if nxt & LOOKAHEAD:
                nxt ^= LOOKAHEAD
            else:
                token.append(byte)
                i += 1
            if nxt >= TOKEN_BASE:
                out.append(Token(nxt, bytes(token)))
                token.clear()
                state = START
            elif nxt == ERROR:
                out.append(Token(ERROR, bytes(token)))
                token.clear()
                state = RECOVERY
            elif nxt in DISCARDING:
                token.clear()
                state = nxt
            else:
                state = nxt
                if len(token) > MAX_TOKEN_SIZE:
                    out.append(Token(OVERSIZED, bytes(token)))
                    token.clear()
                    state = START
        self._state = state
        return out

    def flush(self) -> list[Token]:
        """End of input: finish or reject the pending token, then END_OF_INPUT.

        QEMU feeds a NUL that is never consumed until the machine is back at
        START, so a pending number or keyword completes and anything else is
        stray.
        """
        out: list[Token] = []
        token = self._token
        state = self._state
        while state != START:
            nxt = TABLE[state][0] & ~LOOKAHEAD
            if nxt >= TOKEN_BASE or nxt == ERROR:
                out.append(Token(nxt, bytes(token)))
                token.clear()
                state = START if nxt != ERROR else RECOVERY
            elif nxt in DISCARDING:
                token.clear()
                state = nxt
            else:
                state = nxt
        self._state = state
        out.append(Token(END_OF_INPUT, bytes(token)))
        token.clear()
        return out
