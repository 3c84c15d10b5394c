"""QObject values as QEMU holds them.

Plain Python types stand in where they carry the same information:
  QString -> str (text; "\\u0000" is an ordinary character, QEMU keeps it as
             modified UTF-8), QBool -> bool, QList -> list,
  QNum    -> int for QEMU's int64/uint64 kinds (the range tells which),
             float for its double kind.
QNull and QDict get classes of their own: None is too easy to confuse with
"absent", and a QDict iterates in QEMU's hash-bucket order, not insertion order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping
from typing import TYPE_CHECKING, Any, Union

from reference.qobject.patterns import Wildcard

QDICT_BUCKETS = 512


class QNull:
    """JSON null; a singleton like QEMU's qnull_."""

    _instance: QNull | None = None

    def __new__(cls) -> QNull:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "qnull"


qnull = QNull()

# Wildcard appears only in predictions, where the oracle knows a kind, not a value.
QObject = Union["QDict", list["QObject"], str, int, float, bool, QNull, Wildcard]


def modified_utf8(text: str) -> bytes:
    """Encode as QEMU stores strings: UTF-8 with NUL as the two bytes C0 80."""
    return text.encode("utf-8", "surrogatepass").replace(b"\x00", b"\xc0\x80")


def tdb_hash(key: str) -> int:
    """QDict's bucket hash (the TDB hash), on the key's stored bytes."""
    data = modified_utf8(key)
    value = (0x238F13AF * len(data)) & 0xFFFFFFFF
    for i, byte in enumerate(data):
        value = (value + (byte << (i * 5 % 24))) & 0xFFFFFFFF
    return (1103515243 * value + 12345) & 0xFFFFFFFF


@functools.lru_cache(maxsize=65536)
def bucket_of(key: str) -> int:
    return tdb_hash(key) % QDICT_BUCKETS


# QEMU's order depends only on the keys' insertion order, and replies are built
# with the same few key sequences over and over: sort each sequence once.
_ORDERS: dict[tuple[str, ...], tuple[str, ...]] = {}
_ORDERS_LIMIT = 4096


def qemu_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Keys in insertion order to QEMU's: buckets ascending, newest first within one."""
    order = _ORDERS.get(keys)
    if order is None:
        # reversed() puts newest first; the stable sort keeps that within a bucket.
        order = tuple(sorted(reversed(keys), key=bucket_of))
        if len(_ORDERS) >= _ORDERS_LIMIT:  # fuzzed keys must not grow it without bound
            _ORDERS.clear()
        _ORDERS[keys] = order
    return order


class QDict:
    """A string-keyed map that iterates the way QEMU's QDict does.

    QEMU chains entries in 512 buckets, newest first, and walks buckets in
    ascending order. That order decides the member order of every JSON object
    QEMU writes and, where QEMU checks members one by one, which error wins.
    Replacing a value keeps the entry where it is.
    """

    # _values keeps insertion order (a replaced value stays put), which is all
    # QEMU's order needs besides the keys themselves.
    __slots__ = ("_order", "_values")

    def __init__(self, items: dict[str, QObject] | None = None) -> None:
        self._order: tuple[str, ...] | None = None  # QEMU's order, computed on demand
        if items is None:
            self._values: dict[str, QObject] = {}
        elif type(items) is dict:
            self._values = items.copy()
        else:
            self._values = {}
            for key, value in items.items():
                self.put(key, value)

    @classmethod
    def adopting(cls, values: dict[str, QObject]) -> QDict:
        """A QDict over `values`, taken over, not copied: the caller hands it over."""
        result = cls.__new__(cls)
        result._order = None
        result._values = values
        return result

    def put(self, key: str, value: QObject) -> None:
        # A new key makes a remembered order stale; while building there is none.
        if self._order is not None and key not in self._values:
            self._order = None
        self._values[key] = value

    def delete(self, key: str) -> None:
        if key in self._values:
            del self._values[key]
            self._order = None

    def get(self, key: str) -> QObject | None:
        return self._values.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def _ordered(self) -> tuple[str, ...]:
        order = self._order
        if order is None:
            order = self._order = qemu_order(tuple(self._values))
        return order

    def keys(self) -> list[str]:
        return list(self._ordered())

    def items(self) -> list[tuple[str, QObject]]:
        values = self._values
        return [(key, values[key]) for key in self._ordered()]

    def members(self) -> tuple[tuple[str, ...], Mapping[str, QObject]]:
        """QEMU's key order and a read-only view of the values: items() without building pairs."""
        order = self._order
        return order if order is not None else self._ordered(), self._values

    def unordered_keys(self) -> KeysView[str]:
        """The keys in insertion order, for readers whose outcome does not depend on QEMU's order."""
        return self._values.keys()

    def unordered_items(self) -> ItemsView[str, QObject]:
        """The members in insertion order, for readers whose outcome does not depend on QEMU's order."""
        return self._values.items()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QDict) and self._values == other._values

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self.items())
        return f"QDict({{{inner}}})"


class FrozenQDict(QDict):
    """A QDict that never changes, so the JSON writer can keep its compact text.

    For answers the oracle keeps between requests (query-named-block-nodes'
    per-node infos): written once, then reused wherever the same object
    appears again. Nothing inside may change after it is built either: its
    lists and inner QDicts are its own or shared only by frozen answers.

    One made with deferred() has its text and makes its values only when
    something reads them: a reply written to the wire never does.
    """

    __slots__ = ("_recipe", "text")
    _recipe: tuple[Callable[[Any], dict[str, QObject]], object]  # deferred(): how the values are made

    def __init__(self, items: dict[str, QObject]) -> None:
        self._order = None
        self._values = items  # taken over, not copied: the builder hands it over
        self.text: str | None = None  # compact JSON, filled in by the writer on first use

    @classmethod
    def deferred(cls, text: str, make: Callable[[Any], dict[str, QObject]], recipe: object) -> FrozenQDict:
        """An object whose JSON is `text` and whose values make(recipe) gives, called on first read.

        `recipe` must hold what the values are made of, not what may change later.
        """
        result = cls.__new__(cls)
        result._order = None
        result.text = text
        result._recipe = (make, recipe)
        return result

    if not TYPE_CHECKING:  # hidden from mypy, which would take every attribute name as valid

        def __getattr__(self, name: str) -> Any:
            # Called only for an unset slot: a deferred object's values, made now.
            if name != "_values":
                raise AttributeError(name)
            make, recipe = self._recipe
            values = self._values = make(recipe)
            return values

    def put(self, key: str, value: QObject) -> None:
        raise TypeError("a FrozenQDict does not change")

    def delete(self, key: str) -> None:
        raise TypeError("a FrozenQDict does not change")
