"""QEMU 11.1's JSON message streamer: 7.2's, plus locations and a skip state.

Locations (verified against qemu-storage-daemon 11.1.3): "LINE:COL", 1-based,
in bytes over the connection's whole input; only LF starts a line. A token's
location is where the lexer last returned to its start state, which is the
byte after the one that did so. That is the token's first byte, except after
a byte looked at twice (the end of a number or keyword, or the end of error
recovery): a token beginning on that very byte is reported one column late.

11.1 parses each token as it arrives, so a parse error is reported at once,
mid-message. After it, or after "JSON nesting depth limit exceeded" (which
has no location), the rest of the message is skipped: brackets are still
counted and tokens silently dropped until the message would have ended
(counts back to zero, or one negative; that token is dropped too) or until
a lexical error (also dropped, without a reply). A lexical error outside a
skip is reported and drops the message, as in 7.2.
The token size and count limits are assumed to reset as in 7.2 (unverified).

The lexer table is 7.2's (json_lexer.TABLE); this loop also records where
tokens begin. 7.2's streamer is left untouched (and fast).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Generator

from reference.qobject.json_fastpath import parse_plain_object
from reference.qobject.json_lexer import (
    DISCARDING,
    END_OF_INPUT,
    ERROR,
    LCURLY,
    LOOKAHEAD,
    LSQUARE,
    MAX_TOKEN_SIZE,
    OVERSIZED,
    RCURLY,
    RECOVERY,
    RSQUARE,
    RUNS,
    START,
    TABLE,
    TOKEN_BASE,
)
from reference.qobject.json_parser import JsonParseError, decode_lossy
from reference.qobject.json_parser_11 import LocToken, push_parser
from reference.qobject.json_streamer import (
    MAX_NESTING,
    MAX_TOKEN_COUNT,
    NESTING_EXCEEDED,
    TOKEN_COUNT_EXCEEDED,
    TOKEN_SIZE_EXCEEDED,
    JsonMessage,
    ParsedValue,
    ParseError,
)
from reference.qobject.values import QObject

# 11.1 formats "stray '%s'" into a fixed 1024-byte buffer (pinned on qsd 11.1.3): a long token
# loses its end and the closing quote, and a UTF-8 sequence cut in two prints as U+FFFD.
STRAY_BUFFER = 1024


def stray_11(text: bytes) -> str:
    text = text.split(b"\0", 1)[0]  # printed as a C string: a NUL byte ends it
    return decode_lossy(b"JSON parse error, " + (b"stray '" + text + b"'")[: STRAY_BUFFER - 1])


class Lines:
    """Absolute offsets to "LINE:COL", keeping only the LFs still needed."""

    __slots__ = ("_before", "_last", "_newlines")

    def __init__(self) -> None:
        self._before = 0  # LFs forgotten
        self._last = -1  # offset of the last forgotten LF
        self._newlines: list[int] = []

    def add(self, data: bytes, base: int) -> None:
        i = data.find(b"\n")
        while i >= 0:
            self._newlines.append(base + i)
            i = data.find(b"\n", i + 1)

    def forget_before(self, offset: int) -> None:
        k = bisect_left(self._newlines, offset)
        if k:
            self._before += k
            self._last = self._newlines[k - 1]
            del self._newlines[:k]

    def locate(self, offset: int) -> str:
        k = bisect_left(self._newlines, offset)
        last = self._newlines[k - 1] if k else self._last
        return f"{self._before + k + 1}:{offset - last}"


class LocatingLexer:
    """7.2's lexer, byte-table driven, also giving each token its location offset."""

    __slots__ = ("_start", "_state", "_token", "offset")

    def __init__(self) -> None:
        self._state = START
        self._token = bytearray()
        self._start = 0
        self.offset = 0  # bytes fed so far

    @property
    def state(self) -> int:
        return self._state

    def feed(self, data: bytes) -> list[LocToken]:
        out: list[LocToken] = []
        token = self._token
        state = self._state
        start = self._start
        base = self.offset
        i = 0
        n = len(data)
        while i < n:
            run = RUNS.get(state)
            if run is not None:
                match = run.match(data, i)
                if match is not None:
                    end = match.end()
                    if state == START:
                        start = base + end
                    if state in DISCARDING:
                        i = end
                        continue
                    room = MAX_TOKEN_SIZE + 1 - len(token)
                    if end - i >= room:
                        token += data[i : i + room]
                        i += room
                        out.append(LocToken(OVERSIZED, bytes(token), start))
                        token.clear()
                        state = START
                        start = base + i
                        continue
                    token += data[i:end]
                    i = end
                    if i == n:
                        break
            byte = data[i]
            nxt = TABLE[state][byte]
            # Wherever the machine lands in START, the next token "begins"
            # after this byte, even if the byte is looked at again.
            after = base + i + 1
            if nxt & LOOKAHEAD:
                nxt ^= LOOKAHEAD
            else:
                token.append(byte)
                i += 1
            if nxt >= TOKEN_BASE:
                out.append(LocToken(nxt, bytes(token), start))
                token.clear()
                state = START
                start = after
            elif nxt == ERROR:
                out.append(LocToken(ERROR, bytes(token), start))
                token.clear()
                state = RECOVERY
            elif nxt in DISCARDING:
                token.clear()
                state = nxt
                if nxt == START:
                    start = after
            else:
                state = nxt
                if len(token) > MAX_TOKEN_SIZE:
                    out.append(LocToken(OVERSIZED, bytes(token), start))
                    token.clear()
                    state = START
                    start = after
        self._state = state
        self._start = start
        self.offset = base + n
        return out

    def skip(self, count: int) -> None:
        """Pass over bytes known to end at START (a whole plain object)."""
        self.offset += count
        self._start = self.offset

    def flush(self) -> list[LocToken]:
        """End of input as in 7.2: a pending number or keyword completes, else stray."""
        out: list[LocToken] = []
        token = self._token
        state = self._state
        while state != START:
            nxt = TABLE[state][0] & ~LOOKAHEAD
            if nxt >= TOKEN_BASE or nxt == ERROR:
                out.append(LocToken(nxt, bytes(token), self._start))
                token.clear()
                state = START if nxt != ERROR else RECOVERY
            elif nxt in DISCARDING:
                token.clear()
                state = nxt
            else:
                state = nxt
        self._state = state
        out.append(LocToken(END_OF_INPUT, bytes(token), self._start))
        token.clear()
        return out


class JsonStreamer11:
    """Bytes in, parsed messages out, as QEMU 11.1's QMP monitor cuts them."""

    __slots__ = ("_brace", "_bracket", "_count", "_lexer", "_lines", "_parser", "_size", "_skipping")

    def __init__(self) -> None:
        self._lexer = LocatingLexer()
        self._lines = Lines()
        self._parser: Generator[None, LocToken, QObject] | None = None
        self._count = 0
        self._brace = 0
        self._bracket = 0
        self._size = 0
        self._skipping = False

    @property
    def pending(self) -> bool:
        return self._count > 0 or self._skipping or self._lexer.state != START

    def feed(self, data: bytes) -> list[JsonMessage]:
        self._lines.add(data, self._lexer.offset)
        if not self.pending:
            plain = parse_plain_object(data)
            if plain is not None:
                self._lexer.skip(len(data))
                self._lines.forget_before(self._lexer.offset)
                return [ParsedValue(plain)]
        out: list[JsonMessage] = []
        for token in self._lexer.feed(data):
            self._process(token, out)
        return out

    def flush(self) -> list[JsonMessage]:
        out: list[JsonMessage] = []
        for token in self._lexer.flush():
            self._process(token, out)
        return out

    def _process(self, token: LocToken, out: list[JsonMessage]) -> None:
        kind = token.kind
        if kind == LCURLY:
            self._brace += 1
        elif kind == RCURLY:
            self._brace -= 1
        elif kind == LSQUARE:
            self._bracket += 1
        elif kind == RSQUARE:
            self._bracket -= 1
        elif kind == ERROR:
            if self._skipping:
                self._reset(token.at)
                return
            text = stray_11(token.text)
            self._emit(ParseError(f"{self._lines.locate(token.at)}: {text}"), token.at, out)
            return
        elif kind == END_OF_INPUT:
            if self._count:
                # Unreachable from the QMP monitor, which never flushes.
                self._emit(ParseError("JSON parse error, premature EOI"), token.at, out)
            return
        if self._skipping:
            if not self._open():
                self._reset(token.at)
            return
        if self._size + len(token.text) + 1 > MAX_TOKEN_SIZE:
            self._emit(ParseError(TOKEN_SIZE_EXCEEDED), token.at, out)
            return
        if self._count + 1 > MAX_TOKEN_COUNT:
            self._emit(ParseError(TOKEN_COUNT_EXCEEDED), token.at, out)
            return
        if self._brace + self._bracket > MAX_NESTING:
            self._fail(ParseError(NESTING_EXCEEDED), token.at, out)
            return
        if self._parser is None:
            self._parser = push_parser(self._lines.locate)
            next(self._parser)
        self._count += 1
        self._size += len(token.text)
        try:
            self._parser.send(token)
        except StopIteration as done:
            self._emit(ParsedValue(done.value), token.at, out)
            return
        except JsonParseError as exc:
            self._fail(ParseError(exc.desc), token.at, out)
            return
        if not self._open():
            # The counts closed what the parser has not: cannot happen for
            # a parser that checks each token, but never hold on silently.
            self._emit(ParseError("JSON parse error, premature EOI"), token.at, out)

    def _open(self) -> bool:
        return (self._brace > 0 or self._bracket > 0) and self._brace >= 0 and self._bracket >= 0

    def _fail(self, message: ParseError, at: int, out: list[JsonMessage]) -> None:
        """Report at once; an unfinished message is then skipped to its end.

        The counts (this token included) are kept; the skip ends silently
        where the message would have ended, or at a lexical error.
        """
        out.append(message)
        if not self._open():
            self._reset(at)
            return
        self._count = 0
        self._size = 0
        self._parser = None
        self._skipping = True

    def _reset(self, at: int) -> None:
        self._brace = 0
        self._bracket = 0
        self._count = 0
        self._size = 0
        self._parser = None
        self._skipping = False
        # Later tokens lie at or after `at`: older line ends only need counting.
        self._lines.forget_before(at)

    def _emit(self, message: JsonMessage, at: int, out: list[JsonMessage]) -> None:
        self._reset(at)
        out.append(message)
