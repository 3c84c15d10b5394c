"""QAPI schema files to expressions: syntax, include, pragma, doc comment framing.

Reading files goes through a SourceReader so tests (and the oracle) can parse
from memory; paths are shown as given, joined to the including file's folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reference.qapi.schema_lexer import Lexer, pick
from reference.qapi.schema_source import Dialect, Pragmas, SchemaError, SourceInfo

SourceReader = Callable[[str], str]  # path -> text; raises OSError


def folder_reader(root: Path) -> SourceReader:
    """Read schema paths relative to root (messages still show the relative path)."""

    def read(path: str) -> str:
        return (root / path).read_text(encoding="utf-8")

    return read


@dataclass
class Doc:
    info: SourceInfo
    symbol: str = ""


@dataclass
class ParsedExpr:
    expr: dict[str, object]
    info: SourceInfo
    doc: Doc | None = None


@dataclass
class ParseResult:
    exprs: list[ParsedExpr] = field(default_factory=list)
    includes: list[tuple[str, SourceInfo]] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)
    pragmas: Pragmas = field(default_factory=Pragmas)


def parse_schema(fname: str, read: SourceReader, dialect: Dialect) -> ParseResult:
    result = ParseResult()
    _FileParser(fname, read, dialect, result, set(), None).parse()
    return result


class _FileParser:
    def __init__(
        self,
        fname: str,
        read: SourceReader,
        dialect: Dialect,
        result: ParseResult,
        included: set[str],
        incl_info: SourceInfo | None,
    ) -> None:
        self.fname = fname
        self.read = read
        self.dialect = dialect
        self.result = result
        self.included = included
        included.add(os.path.normpath(fname))
        self.lex = Lexer(read(fname), SourceInfo(fname, 1, incl_info), dialect)

    def sem(self, info: SourceInfo, new: str, old: str) -> SchemaError:
        return SchemaError(info, pick(self.dialect, new, old), self.dialect)

    def parse(self) -> None:
        lex = self.lex
        lex.accept()
        cur_doc: Doc | None = None
        while lex.tok:
            info = lex.info
            if lex.tok == "#":
                self._reject_expr_doc(cur_doc)
                cur_doc = self._doc(info)
                self.result.docs.append(cur_doc)
                continue
            expr = self._top_expr(info)
            if "include" in expr:
                self._reject_expr_doc(cur_doc)
                self._include(expr, info)
            elif "pragma" in expr:
                self._reject_expr_doc(cur_doc)
                self._pragma(expr, info)
            else:
                if cur_doc is not None and not cur_doc.symbol:
                    raise self.sem(
                        cur_doc.info, "definition documentation required", "Expression documentation required"
                    )
                self.result.exprs.append(ParsedExpr(expr, info, cur_doc))
            cur_doc = None
        self._reject_expr_doc(cur_doc)

    def _reject_expr_doc(self, doc: Doc | None) -> None:
        if doc is not None and doc.symbol:
            raise self.sem(
                doc.info,
                f"documentation for '{doc.symbol}' is not followed by the definition",
                f"Documentation for '{doc.symbol}' is not followed by the definition",
            )

    # -- values ------------------------------------------------------------

    def _top_expr(self, info: SourceInfo) -> dict[str, object]:
        if self.dialect == "3.1" and self.lex.tok != "{":
            raise self.lex.error('Expected "{"')
        expr = self._value()
        if not isinstance(expr, dict):
            raise self.sem(info, "top-level expression must be an object", "")
        return expr

    def _value(self) -> object:
        lex = self.lex
        if lex.tok == "{":
            lex.accept()
            return self._members()
        if lex.tok == "[":
            lex.accept()
            return self._values()
        if lex.tok in ("'", "t", "f", "n"):
            value = lex.val
            lex.accept()
            return value
        raise lex.error(
            pick(
                self.dialect,
                "expected '{', '[', string, or boolean",
                'Expected "{", "[", string, boolean or "null"',
            )
        )

    def _members(self) -> dict[str, object]:
        lex, d = self.lex, self.dialect
        out: dict[str, object] = {}
        if lex.tok == "}":
            lex.accept()
            return out
        if lex.tok != "'":
            raise lex.error(pick(d, "expected string or '}'", 'Expected string or "}"'))
        while True:
            key = str(lex.val)
            lex.accept()
            if lex.tok != ":":
                raise lex.error(pick(d, "expected ':'", 'Expected ":"'))
            lex.accept()
            if key in out:
                raise lex.error(pick(d, f"duplicate key '{key}'", f'Duplicate key "{key}"'))
            out[key] = self._value()
            if lex.tok == "}":
                lex.accept()
                return out
            if lex.tok != ",":
                raise lex.error(pick(d, "expected ',' or '}'", 'Expected "," or "}"'))
            lex.accept()
            if lex.tok != "'":
                raise lex.error(pick(d, "expected string", "Expected string"))

    def _values(self) -> list[object]:
        lex, d = self.lex, self.dialect
        out: list[object] = []
        if lex.tok == "]":
            lex.accept()
            return out
        starts = "{['tf" if d == "7.2" else "{['tfn"
        if lex.tok not in tuple(starts):
            raise lex.error(
                pick(
                    d,
                    "expected '{', '[', ']', string, or boolean",
                    'Expected "{", "[", "]", string, boolean or "null"',
                )
            )
        while True:
            out.append(self._value())
            if lex.tok == "]":
                lex.accept()
                return out
            if lex.tok != ",":
                raise lex.error(pick(d, "expected ',' or ']'", 'Expected "," or "]"'))
            lex.accept()

    # -- directives ----------------------------------------------------------

    def _include(self, expr: dict[str, object], info: SourceInfo) -> None:
        if len(expr) != 1:
            raise self.sem(info, "invalid 'include' directive", "Invalid 'include' directive")
        include = expr["include"]
        if not isinstance(include, str):
            raise self.sem(info, "value of 'include' must be a string", "Value of 'include' must be a string")
        path = os.path.normpath(os.path.join(os.path.dirname(self.fname), include))
        self.result.includes.append((path, info))
        walk: SourceInfo | None = info
        while walk is not None:
            if os.path.normpath(walk.fname) == path:
                raise self.sem(info, f"inclusion loop for {include}", f"Inclusion loop for {include}")
            walk = walk.parent
        if path in self.included:
            return  # QEMU silently skips a file included before
        try:
            child = _FileParser(path, self.read, self.dialect, self.result, self.included, info)
        except OSError as err:
            reason = err.strerror or str(err)
            raise self.sem(
                info, f"can't read include file '{path}': {reason}", f"{reason}: {include}"
            ) from err
        child.parse()

    def _pragma(self, expr: dict[str, object], info: SourceInfo) -> None:
        if len(expr) != 1:
            raise self.sem(info, "invalid 'pragma' directive", "Invalid 'pragma' directive")
        pragma = expr["pragma"]
        if not isinstance(pragma, dict):
            raise self.sem(
                info, "value of 'pragma' must be an object", "Value of 'pragma' must be a dictionary"
            )
        for name, value in pragma.items():
            self._one_pragma(name, value, info)

    def _one_pragma(self, name: str, value: object, info: SourceInfo) -> None:
        prag = self.result.pragmas
        if name == "doc-required":
            if not isinstance(value, bool):
                raise self.sem(
                    info, "pragma 'doc-required' must be boolean", "Pragma 'doc-required' must be boolean"
                )
            prag.doc_required = value
            return
        lists = {
            "7.2": {
                "command-name-exceptions": prag.command_name_exceptions,
                "command-returns-exceptions": prag.command_returns_exceptions,
                "member-name-exceptions": prag.member_name_exceptions,
            },
            "3.1": {
                "returns-whitelist": prag.command_returns_exceptions,
                "name-case-whitelist": prag.member_name_exceptions,
            },
        }[self.dialect]
        if name not in lists:
            raise self.sem(info, f"unknown pragma '{name}'", f"Unknown pragma '{name}'")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.sem(
                info, f"pragma {name} must be a list of strings", f"Pragma {name} must be a list of strings"
            )
        # Like QEMU, a later pragma replaces an earlier one.
        lists[name][:] = [str(v) for v in value]

    # -- doc comments --------------------------------------------------------

    def _doc(self, info: SourceInfo) -> Doc:
        lex, d = self.lex, self.dialect
        if lex.val != "##":
            raise lex.error(
                pick(
                    d,
                    "junk after '##' at start of documentation comment",
                    "Junk after '##' at start of documentation comment",
                )
            )
        doc = Doc(info)
        first = True
        lex.accept(False)
        while lex.tok == "#":
            line = str(lex.val)
            if line.startswith("##"):
                if line != "##":
                    raise lex.error(
                        pick(
                            d,
                            "junk after '##' at end of documentation comment",
                            "Junk after '##' at end of documentation comment",
                        )
                    )
                lex.accept()
                return doc
            text = line[1:]
            if text and text[0] != " ":
                raise lex.error(pick(d, "missing space after #", "Missing space after #"))
            text = text[1:]
            if first and text.startswith("@"):
                if not text.endswith(":"):
                    raise lex.error(pick(d, "line should end with ':'", "Line should end with :"))
                doc.symbol = text[1:-1]
                if not doc.symbol:
                    raise lex.error(pick(d, "invalid name", "Invalid name"))
            if text:
                first = False
            lex.accept(False)
        raise lex.error(
            pick(d, "documentation comment must end with '##'", "Documentation comment must end with '##'")
        )
