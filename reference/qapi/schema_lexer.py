"""Tokens of the QAPI schema language (JSON with single quotes and '#' comments).

3.1 knows C-like string escapes and 'null'; 7.2 accepts only printable ASCII,
the escape '\\\\', and no 'null'. Errors carry a column, as QEMU's parse errors do.
"""

from __future__ import annotations

import re

from reference.qapi.schema_source import Dialect, SchemaError, SourceInfo

# Token kinds: one of "{}:,[]", "'" (string), "t"/"f"/"n" (literals), "#" (doc
# comment line), "" (end of input).
Value = str | bool | None

_ESCAPES_31 = {
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "\\": "\\",
    "/": "/",
    "'": "'",
    '"': '"',
}
_STRAY_72 = re.compile(r"[^\[\]{}:,\s'\"]+")


def pick(dialect: Dialect, new: str, old: str) -> str:
    """The 7.2 wording, or the 3.1 one."""
    return new if dialect == "7.2" else old


class Lexer:
    def __init__(self, src: str, info: SourceInfo, dialect: Dialect) -> None:
        self.src = src if src.endswith("\n") else src + "\n"
        self.dialect = dialect
        self.info = info  # line of the current token
        self.tok = ""
        self.val: Value = None
        self.pos = 0  # start of the current token
        self.cursor = 0
        self.line_pos = 0

    def error(self, message: str) -> SchemaError:
        col = 1
        for ch in self.src[self.line_pos : self.pos]:
            # QEMU counts tab stops of 8 when it reports a column.
            col = (col + 7) % 8 + 1 if ch == "\t" else col + 1
        return SchemaError(self.info, message, self.dialect, col)

    def accept(self, skip_comment: bool = True) -> None:
        while True:
            self.pos = self.cursor
            if self.cursor >= len(self.src):
                self.tok, self.val = "", None
                return
            ch = self.src[self.cursor]
            self.cursor += 1
            self.tok, self.val = ch, None
            if ch == "#":
                # '##' opens a doc comment: from there on, comment lines are tokens.
                if self.src.startswith("#", self.cursor):
                    skip_comment = False
                self.cursor = self.src.index("\n", self.cursor)
                if not skip_comment:
                    self.val = self.src[self.pos : self.cursor]
                    return
            elif ch in "{}:,[]":
                return
            elif ch == "'":
                self.val = self._string()
                return
            elif self._literal():
                return
            elif ch == "\n":
                if self.cursor == len(self.src):
                    self.tok = ""
                    return
                self.info = SourceInfo(self.info.fname, self.info.line + 1, self.info.parent)
                self.line_pos = self.cursor
            elif not ch.isspace():
                if self.dialect == "7.2":
                    match = _STRAY_72.match(self.src, self.pos)
                    raise self.error(f"stray '{match.group(0) if match else ch}'")
                raise self.error(f'Stray "{ch}"')

    def _literal(self) -> bool:
        words: tuple[tuple[str, bool | None], ...] = (("true", True), ("false", False))
        if self.dialect == "3.1":
            words += (("null", None),)
        for word, value in words:
            if self.src.startswith(word, self.pos):
                self.tok, self.val = word[0], value
                self.cursor = self.pos + len(word)
                return True
        return False

    def _string(self) -> str:
        out: list[str] = []
        while True:
            ch = self.src[self.cursor]
            self.cursor += 1
            if ch == "\n":
                raise self.error(pick(self.dialect, 'missing terminating "\'"', 'Missing terminating "\'"'))
            if ch == "'":
                return "".join(out)
            if ch == "\\":
                ch = self.src[self.cursor]
                self.cursor += 1
                out.append(self._escape(ch))
                continue
            if self.dialect == "7.2" and not 32 <= ord(ch) < 127:
                raise self.error("funny character in string")
            out.append(ch)

    def _escape(self, ch: str) -> str:
        if self.dialect == "7.2":
            if ch != "\\":
                raise self.error(f"unknown escape \\{ch}")
            return ch
        if ch == "u":
            digits = self.src[self.cursor : self.cursor + 4]
            self.cursor += 4
            if len(digits) < 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise self.error("\\u escape needs 4 hex digits")
            value = int(digits, 16)
            if not 0 < value <= 0x7F:
                raise self.error("For now, \\u escape only supports non-zero values up to \\u007f")
            return chr(value)
        if ch not in _ESCAPES_31:
            raise self.error(f"Unknown escape \\{ch}")
        return _ESCAPES_31[ch]
