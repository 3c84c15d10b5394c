"""QDict iteration order: QEMU's 512-bucket TDB hash, newest first within a bucket."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reference.qobject import values as values_module
from reference.qobject.values import QDict, QObject, bucket_of, tdb_hash


def test_greeting_member_order_matches_qemu() -> None:
    # Orders as qemu-storage-daemon 7.2 writes them (fixtures/introspection/qsd-7.2.json).
    assert QDict({"major": 7, "minor": 2, "micro": 22}).keys() == ["micro", "minor", "major"]
    assert QDict({"package": "", "qemu": 0}).keys() == ["qemu", "package"]
    assert QDict({"capabilities": [], "version": 0}).keys() == ["version", "capabilities"]


def test_reply_member_order_matches_qemu() -> None:
    assert QDict({"error": 0, "id": 1}).keys() == ["id", "error"]
    assert QDict({"return": 0, "id": 1}).keys() == ["return", "id"]
    assert QDict({"desc": 0, "class": 1}).keys() == ["class", "desc"]


def test_same_bucket_newest_first() -> None:
    by_bucket: dict[int, list[str]] = {}
    for i in range(2000):
        key = f"k{i}"
        by_bucket.setdefault(bucket_of(key), []).append(key)
    first, second = next(keys for keys in by_bucket.values() if len(keys) >= 2)[:2]
    assert QDict({first: 1, second: 2}).keys() == [second, first]


def test_replacing_a_value_keeps_the_position() -> None:
    by_bucket: dict[int, list[str]] = {}
    for i in range(2000):
        by_bucket.setdefault(bucket_of(f"k{i}"), []).append(f"k{i}")
    first, second = next(keys for keys in by_bucket.values() if len(keys) >= 2)[:2]
    d = QDict({first: 1, second: 2})
    d.put(first, 3)
    assert d.keys() == [second, first]
    d.delete(first)
    d.put(first, 4)
    assert d.keys() == [first, second]


def test_hash_is_unsigned_32_bit_and_sees_nul_as_c0_80() -> None:
    assert 0 <= tdb_hash("x" * 1000) < 2**32
    assert tdb_hash("a\x00b") != tdb_hash("ab")


def stamp_order(log: list[tuple[str, str | None]]) -> list[str]:
    """QEMU's order worked out from scratch: each live key's bucket, then newest insertion first."""
    stamps: dict[str, int] = {}
    for step, (key, op) in enumerate(log):
        if op == "delete":
            stamps.pop(key, None)
        elif key not in stamps:
            stamps[key] = step
    return sorted(stamps, key=lambda k: (bucket_of(k), -stamps[k]))


operations = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "k0", "k7", "id", "return", "x\x00"]) | st.text(max_size=3),
              st.sampled_from(["put", "delete", "read"])),
    max_size=30,
)  # fmt: skip


@given(operations)
def test_order_follows_every_change_even_after_a_read(ops: list[tuple[str, str]]) -> None:
    d = QDict()
    log: list[tuple[str, str | None]] = []
    for step, (key, op) in enumerate(ops):
        if op == "put":
            d.put(key, step)
            log.append((key, "put"))
        elif op == "delete":
            d.delete(key)
            log.append((key, "delete"))
        # Read after every step, so a remembered order that went stale would show.
        expected = stamp_order(log)
        assert d.keys() == expected
        order, values = d.members()
        assert list(order) == expected == [k for k, _ in d.items()]
        assert set(values) == set(expected)


def test_orders_stay_right_past_the_remembered_limit() -> None:
    for i in range(values_module._ORDERS_LIMIT + 5):
        expected = stamp_order([(f"u{i}", None), ("a", None), ("b", None)])
        assert QDict({f"u{i}": 0, "a": 1, "b": 2}).keys() == expected
    assert len(values_module._ORDERS) <= values_module._ORDERS_LIMIT


def test_holds_its_own_copy_of_the_dict_it_is_built_from() -> None:
    plain: dict[str, QObject] = {"x": 1}
    d = QDict(plain)
    d.put("y", 2)
    assert plain == {"x": 1}  # the QDict holds its own copy
