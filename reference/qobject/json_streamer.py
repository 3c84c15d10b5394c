"""QEMU's JSON message streamer (qobject/json-streamer.c in 7.2).

It cuts the token stream into messages by counting braces and brackets: a
message ends when both counts are back to zero, or as soon as either goes
negative (a stray closer is a message of its own, and a parse error). Each
message is parsed on its own; a lexical error or a limit drops the message
so far and resets the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.qobject.json_fastpath import parse_plain_object
from reference.qobject.json_lexer import (
    END_OF_INPUT,
    ERROR,
    LCURLY,
    LSQUARE,
    MAX_TOKEN_SIZE,
    RCURLY,
    RSQUARE,
    START,
    JsonLexer,
    Token,
)
from reference.qobject.json_parser import JsonParseError, decode_lossy, parse_tokens
from reference.qobject.values import QObject

MAX_TOKEN_COUNT = 2 << 20
MAX_NESTING = 1 << 10

TOKEN_SIZE_EXCEEDED = "JSON token size limit exceeded"
TOKEN_COUNT_EXCEEDED = "JSON token count limit exceeded"
NESTING_EXCEEDED = "JSON nesting depth limit exceeded"


@dataclass(frozen=True)
class ParsedValue:
    value: QObject


@dataclass(frozen=True)
class ParseError:
    # The Error text QEMU reports as "desc", as a client reads it.
    desc: str


JsonMessage = ParsedValue | ParseError


def stray(text: bytes) -> ParseError:
    # QEMU prints the text as a C string: a NUL byte ends it.
    text = text.split(b"\0", 1)[0]
    return ParseError(decode_lossy(b"JSON parse error, stray '" + text + b"'"))


class JsonStreamer:
    """Bytes in, parsed messages out, exactly as QEMU's QMP monitor cuts them."""

    __slots__ = ("_brace", "_bracket", "_lexer", "_size", "_tokens")

    def __init__(self) -> None:
        self._lexer = JsonLexer()
        self._tokens: list[Token] = []
        self._brace = 0
        self._bracket = 0
        self._size = 0

    @property
    def pending(self) -> bool:
        """Whether a message is under way (tokens held or a token half-lexed)."""
        return bool(self._tokens) or self._lexer.state != START

    def feed(self, data: bytes) -> list[JsonMessage]:
        if not self._tokens and self._lexer.state == START:  # not pending, without the property's call
            plain = parse_plain_object(data)
            if plain is not None:
                return [ParsedValue(plain)]
        out: list[JsonMessage] = []
        for token in self._lexer.feed(data):
            self._process(token, out)
        return out

    def flush(self) -> list[JsonMessage]:
        """End of input: what QEMU does on json_message_parser_flush().

        The QMP monitor never calls it (on disconnect it just discards the
        parser); it is here for the dialect's completeness.
        """
        out: list[JsonMessage] = []
        for token in self._lexer.flush():
            self._process(token, out)
        return out

    def _process(self, token: Token, out: list[JsonMessage]) -> None:
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
            self._emit(stray(token.text), out)
            return
        elif kind == END_OF_INPUT:
            if self._tokens:
                self._emit(self._parse(), out)
            return
        # Limits are checked before the token joins the message.
        if self._size + len(token.text) + 1 > MAX_TOKEN_SIZE:
            self._emit(ParseError(TOKEN_SIZE_EXCEEDED), out)
            return
        if len(self._tokens) + 1 > MAX_TOKEN_COUNT:
            self._emit(ParseError(TOKEN_COUNT_EXCEEDED), out)
            return
        if self._brace + self._bracket > MAX_NESTING:
            self._emit(ParseError(NESTING_EXCEEDED), out)
            return
        self._tokens.append(token)
        self._size += len(token.text)
        if (self._brace > 0 or self._bracket > 0) and self._brace >= 0 and self._bracket >= 0:
            return
        self._emit(self._parse(), out)

    def _parse(self) -> JsonMessage:
        try:
            return ParsedValue(parse_tokens(self._tokens))
        except JsonParseError as exc:
            return ParseError(exc.desc)

    def _emit(self, message: JsonMessage, out: list[JsonMessage]) -> None:
        self._brace = 0
        self._bracket = 0
        self._tokens = []
        self._size = 0
        out.append(message)
