"""QDict iteration order: QEMU's 512-bucket TDB hash, newest first within a bucket."""

from __future__ import annotations

from reference.qobject.values import QDict, bucket_of, tdb_hash


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
