"""QEMU 11.1's JSON parser errors: tokens with locations to QObjects.

11.1 accepts what 7.2 accepts and checks in the same order (a value is
parsed before its key is judged a duplicate), but words structural errors
differently and prefixes every parse error with "LINE:COL: ", the location
of the token where the error was found (see json_streamer_11 for how
locations are counted). It parses token by token (push_parser), so an error
is found at the token that shows it, before the message is complete.
Scalars and strings are read exactly as in 7.2.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import NamedTuple

from reference.qobject.json_lexer import COLON, COMMA, LCURLY, LSQUARE, RCURLY, RSQUARE, STRING, Token
from reference.qobject.json_parser import _SCALARS, JsonParseError, _scalar, error, parse_string
from reference.qobject.values import QDict, QObject


class LocToken(NamedTuple):
    kind: int
    text: bytes
    # Absolute offset in the connection's input that the location names.
    at: int


# Offset to "LINE:COL" (1-based, bytes).
Locate = Callable[[int], str]


class _Object:
    __slots__ = ("dict", "key")

    def __init__(self) -> None:
        self.dict = QDict()
        self.key: str | None = None


def _fail(locate: Locate, token: LocToken, message: bytes) -> JsonParseError:
    return located(locate(token.at), error(message))


def located(where: str, exc: JsonParseError) -> JsonParseError:
    return JsonParseError(f"{where}: {exc.desc}")


def _scalar_at(locate: Locate, token: LocToken) -> QObject:
    try:
        return _scalar(Token(token.kind, token.text))
    except JsonParseError as exc:
        raise located(locate(token.at), exc) from None


def push_parser(locate: Locate) -> Generator[None, LocToken, QObject]:
    """A parser fed one token at a time with send(), after priming with next().

    11.1 parses as tokens arrive, so an error is reported at the token that
    shows it, before the message is complete. send() raises JsonParseError
    (located) then, or StopIteration carrying the value once it is complete.
    """
    stack: list[list[QObject] | _Object] = []
    # The token after an opener, already taken to tell an empty container.
    held: LocToken | None = None
    while True:
        if held is None:
            token = yield
        else:
            token, held = held, None
        if stack and isinstance(stack[-1], _Object):
            # An open object wants a key here.
            obj = stack[-1]
            if token.kind != STRING:
                raise _fail(locate, token, b"expecting key")
            try:
                obj.key = parse_string(token.text)
            except JsonParseError as exc:
                raise located(locate(token.at), exc) from None
            colon = yield
            if colon.kind != COLON:
                raise _fail(locate, colon, b"expecting ':'")
            token = yield
        kind = token.kind
        value: QObject
        if kind in _SCALARS:
            value = _scalar_at(locate, token)
            last = token
        elif kind in (LCURLY, LSQUARE):
            follow = yield
            if follow.kind == (RCURLY if kind == LCURLY else RSQUARE):
                last = follow
                value = QDict() if kind == LCURLY else []
            else:
                stack.append(_Object() if kind == LCURLY else [])
                held = follow
                continue
        else:
            raise _fail(locate, token, b"expecting value")
        # Hand the value up; `last` is the value's final token, where a
        # duplicate key is reported.
        while stack:
            top = stack[-1]
            if isinstance(top, list):
                top.append(value)
                follow = yield
                if follow.kind == RSQUARE:
                    stack.pop()
                    value = top
                    last = follow
                    continue
                if follow.kind != COMMA:
                    raise _fail(locate, follow, b"expected ',' or ']'")
                break
            assert top.key is not None
            if top.key in top.dict:
                raise _fail(locate, last, b"duplicate key")
            top.dict.put(top.key, value)
            top.key = None
            follow = yield
            if follow.kind == RCURLY:
                stack.pop()
                value = top.dict
                last = follow
                continue
            if follow.kind != COMMA:
                raise _fail(locate, follow, b"expected ',' or '}'")
            break
        else:
            return value
