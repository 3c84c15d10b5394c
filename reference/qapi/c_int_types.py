"""How QEMU's strict QObject input visitor takes an integer, by its C type.

Introspection folds int8..uint64 and size into "int"; conformance/int_types.py
learns each member's real type from the binary into a table (pinned there):

- signed types read an int64 first: anything else (a uint64 above INT64_MAX,
  a double, a non-number) is "Invalid parameter type for 'FULL', expected: integer";
- unsigned types read a uint64, taking a negative int64 modulo 2**64 (QEMU's
  backward compatibility); anything else is "Parameter 'FULL' expects uint64"
  (size behaves the same, so the table calls it uint64);
- narrow types then check the range: "Parameter 'BARE' expects uint32_t".
"""

from __future__ import annotations

from dataclasses import dataclass

from reference.qobject.values import QObject

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1


@dataclass(frozen=True)
class CIntType:
    name: str  # as the table spells it: int8 .. uint64
    signed: bool
    bits: int

    @property
    def low(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def high(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def accepts(self, value: QObject) -> bool:
        """True where convert() returns a value: the quick check."""
        if type(value) is not int:
            return False
        if self.signed or self.bits < 64:
            return self.low <= value <= self.high
        return INT64_MIN <= value <= UINT64_MAX


C_INT_TYPES = {
    f"{sign}int{bits}": CIntType(f"{sign}int{bits}", sign == "", bits)
    for sign in ("", "u")
    for bits in (8, 16, 32, 64)
}


class CIntError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def convert(ctype: CIntType, value: QObject, full: str, bare: str) -> int:
    """The C value QEMU stores, or CIntError with its message.

    value is what the JSON parser made: int within int64 or uint64, else float.
    """
    is_int = type(value) is int
    if ctype.signed:
        if not is_int or not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
            raise CIntError(f"Invalid parameter type for '{full}', expected: integer")
        number = int(value)  # type: ignore[arg-type]
    else:
        if not is_int or not INT64_MIN <= value <= UINT64_MAX:  # type: ignore[operator]
            raise CIntError(f"Parameter '{full}' expects uint64")
        number = int(value) % 2**64  # type: ignore[arg-type]
    if ctype.bits < 64 and not ctype.low <= number <= ctype.high:
        raise CIntError(f"Parameter '{bare}' expects {ctype.name}_t")
    return number
